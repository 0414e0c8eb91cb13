"""The run's transcript as JSON lines: what was sent, what came back, what the tools did.

It goes next to the artifact, never to XCom. Every string in an event is scrubbed of known
secrets before the event is encoded, because transcripts outlive the run; scrubbing the encoded
line instead could eat an escaping backslash (`password=\\"x\\"`) and leave a line that is not JSON.
Whatever the tools and the model produced, each line is one valid JSON object.

Each event is scrubbed once, when it is recorded (scrub.json_line): an event whose JSON text
shows nothing that could be a secret is written as it is, the others string by string, short
strings that repeat in every event remembered with their scrubbed form. Lines reach the
file at checkpoints rather than one write each: every event but a tool's is flushed as it is
recorded, and the loop calls `checkpoint()` before it waits on the model, so a task killed at
any moment leaves a transcript that shows everything up to its last completed model call and
the tool results that call led to.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, TextIO

from agentjobs.agent.scrub import scrubber_of

# Recorded several times a call; written out at the next checkpoint (see above).
_BUFFERED = frozenset({"tool"})

# Characters JSON leaves raw but `str.splitlines()` (and some editors) break lines on; escaped, the
# line stays one line for every reader.
_LINE_BREAKS = str.maketrans({"\x85": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"})


class Transcript:
    """Append-only JSON-lines log, its events also readable from `events`; a `None` path records nothing.

    With no file an event would be scrubbed only to be dropped (nothing reads `events` of a run
    without a transcript), and scrubbing every string of every request and reply was the largest
    share of the agent loop's own time; so nothing is kept, and nothing unscrubbed either.
    """

    def __init__(self, path: Path | None = None, secrets: Iterable[str] = ()) -> None:
        self.path = path
        self.secrets = tuple(secrets)
        self._lines: list[str] = []
        self._file: TextIO | None = None
        if path is not None:
            # Resolved once: every event is written through it (scrub.json_line).
            self._scrubber = scrubber_of(self.secrets)
            # The folder is almost always there (run_skill made it): opening first spares every
            # task a mkdir call and the FileExistsError pathlib raises and swallows inside it.
            try:
                self._file = path.open("a", encoding="utf-8")
            except FileNotFoundError:
                path.parent.mkdir(parents=True, exist_ok=True)
                self._file = path.open("a", encoding="utf-8")

    def record(self, event: str, **data: Any) -> None:
        self.record_encoded(event, None, **data)

    def record_encoded(self, event: str, encoded: Mapping[str, str] | None, **data: Any) -> None:
        """record(), with members of `data` the caller has already encoded (unicode_text.json_text)
        named in `encoded` with their text, so they are not encoded again (see scrub.json_line)."""
        if self._file is None:
            return
        line = self._scrubber.json_line({"event": event, "ts": round(time.time(), 3), **data}, encoded)
        if not line.isascii():  # the three breaks are not ASCII; translating costs ~5 us an event
            line = line.translate(_LINE_BREAKS)
        self._lines.append(line)
        self._file.write(line + "\n")
        if event not in _BUFFERED:
            self._file.flush()

    @property
    def events(self) -> list[dict[str, Any]]:
        """The events recorded so far, as written (scrubbed)."""
        return [json.loads(line) for line in self._lines]

    def checkpoint(self) -> None:
        """Put every recorded line in the file (the loop calls this before each model call)."""
        if self._file is not None:
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
