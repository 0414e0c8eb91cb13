"""What `agentjobs run` puts in place of a job's outside sources on the embedded default.

The business database has its generated sample (cli/run.py's business_db); the enrichment job's
company directory has the packaged sample directory (business/directory.py), served on
127.0.0.1 for the length of the run, with the job's `source_url` and `allow_urls` pointed at
it: no internet, nothing started by hand.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def sample_sources(spec: Any) -> Iterator[Any]:
    """`spec` as the command runs it, with the kind's sample sources running."""
    if spec.kind != "enrichment":
        yield spec
        return
    from agentjobs.business.directory import serve_directory

    with serve_directory() as directory:
        print(f"agentjobs: serving the sample company directory at {directory.url} for this run")
        data = spec.model_dump()
        data["enrichment"] = {
            **(data.get("enrichment") or {}),
            "source_url": directory.url,
            "allow_urls": [directory.url],
        }
        yield type(spec).model_validate(data)
