"""A company directory on loopback for the enrichment tests: the package's server with scripted answers.

`answers` maps a company name to its answer; any other name gets a 404. Every request path is
recorded, so a test can prove a URL off the allowlist was never fetched at all.
"""

from __future__ import annotations

import json
from typing import Any

from agentjobs.business.directory import Answer


def record(**fields: Any) -> Answer:
    return Answer(200, json.dumps(fields).encode())


class FakeDirectory:
    def __init__(self) -> None:
        self.answers: dict[str, Answer] = {}
        self.url = ""
        self.requests: list[str] = []

    def answer(self, name: str) -> Answer:
        return self.answers.get(name, Answer(404, b'{"error": "no such company"}'))
