"""The run's transcript as JSON lines: what was sent, what came back, what the tools did.

It goes next to the artifact, never to XCom. Every line is scrubbed of known secrets
before it is written, because transcripts outlive the run.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Any, TextIO

from agentjobs.agent.scrub import scrub


class Transcript:
    """Append-only JSON-lines log; a `None` path keeps events in memory only."""

    def __init__(self, path: Path | None = None, secrets: Iterable[str] = ()) -> None:
        self.path = path
        self.secrets = tuple(secrets)
        self.events: list[dict[str, Any]] = []
        self._file: TextIO | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file = path.open("a", encoding="utf-8")

    def record(self, event: str, **data: Any) -> None:
        entry = {"event": event, "ts": round(time.time(), 3), **data}
        line = scrub(json.dumps(entry, ensure_ascii=False, default=str), self.secrets)
        self.events.append(json.loads(line))
        if self._file is not None:
            self._file.write(line + "\n")
            self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> Transcript:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
