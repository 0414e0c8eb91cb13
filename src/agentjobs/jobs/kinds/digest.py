"""The digest as a kind: yesterday's git, GitHub and RSS activity, summarized once per run.

Its settings are the spec's own fields (sections, commits_cap, highlights_max, channels,
pii_review), kept there so specs written before kinds existed still load: it has no section.
It is not a per-team fan-out, so it names its own task graph (operators/digest_graph.py).
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel

from agentjobs.jobs.kinds.registry import DIGEST, FAN_OUT_KINDS


class DigestKind:
    name: ClassVar[str] = DIGEST
    settings_model: ClassVar[type[BaseModel] | None] = None
    default_schedule: ClassVar[str] = "0 3 * * *"
    task_graph: ClassVar[str] = "agentjobs.operators.digest_graph:GRAPH"

    def check_spec(self, spec: Any) -> None:
        from agentjobs.jobs.spec import KindMismatch

        if spec.sources.sql is not None:
            raise KindMismatch(
                "sources.sql",
                "a digest reads git, github and rss; sql is for the "
                "business-database kinds (" + ", ".join(FAN_OUT_KINDS) + ")",
            )


KIND = DigestKind()
