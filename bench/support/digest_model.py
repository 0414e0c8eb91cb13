"""A deterministic stand-in for the model, for both digest designs, counting tokens with tiktoken.

It serves OpenAI chat completions on loopback (tests/fakes/model_server.py) and answers from
what the request holds, never from the day's truth, so a design that hides an item from the
model loses it from the digest. Its editorial policy is the same in both designs: list every
commit it can see, highlight up to HIGHLIGHTS articles in the order given, no action items.

- Structured request (a `response_format`, as the agentjobs pipeline sends): it reads the
  `- ref: URL | kind | title` lines of the prompt and answers the judgement JSON.
- Tool request with `web_fetch` (the agentic-fetch baseline): it fetches every URL the user
  message names in one turn (parallel tool calls, as a capable agent does, so no page is sent
  back to it more than once before the answer), then writes the digest from the pages it was
  given (raw HTML, or the markdown of a reader-mode fetch).

Every reply reports `usage` counted by tiktoken on the request as sent (bench/support/tokens.py).
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from html import unescape
from typing import Any

from bench.support import tokens
from tests.fakes.model_server import RecordedRequest, ScriptedModelServer, Step, reply, respond, tool_calls

HIGHLIGHTS = 5
MODEL = "bench-digest-model"
_DATA_LINE = re.compile(r"^- ref: (?P<ref>\S+) \| (?P<kind>[^|]+) \| (?P<title>[^|\n]+)", re.MULTILINE)
_COMMIT_LINK = re.compile(
    r'<a class="Link--secondary" href="/[^"]+/commit/(?P<sha>[0-9a-f]{40})"[^>]*>(?P<subject>[^<]+)</a>'
)
_STORY_LINK = re.compile(r'<a class="story-link" href="(?P<url>[^"]+)">(?P<title>[^<]+)</a>')
# The same items in a reader-mode fetch's markdown (bench/support/pages.readable).
_COMMIT_MD = re.compile(r"^#+ \[(?P<subject>[^\]]+)\]\(/[^)]+/commit/(?P<sha>[0-9a-f]{40})\)$", re.MULTILINE)
_STORY_MD = re.compile(r"^## \[(?P<title>[^\]]+)\]\((?P<url>https?://[^)]+)\)$", re.MULTILINE)
_URL = re.compile(r"https?://[^\s)]+")


def takeaway(title: str) -> str:
    return f"Worth the team's five minutes: {title}"[:120]


def _picks(articles: dict[str, str]) -> list[str]:
    return sorted(articles)[:HIGHLIGHTS]


def _structured(body: dict[str, Any]) -> str:
    prompt = next(m["content"] for m in body["messages"] if m["role"] == "user")
    articles = {
        m["ref"]: m["title"].strip() for m in _DATA_LINE.finditer(prompt) if m["kind"].startswith("article")
    }
    highlights = [{"ref": url, "takeaway": takeaway(articles[url])} for url in _picks(articles)]
    return json.dumps({"highlights": highlights, "action_items": []})


def _agentic(body: dict[str, Any]) -> Step | str:
    messages = body["messages"]
    user = next(m["content"] for m in messages if m["role"] == "user")
    fetched = [
        json.loads(call["function"]["arguments"])["url"]
        for m in messages
        if m["role"] == "assistant"
        for call in m.get("tool_calls") or []
    ]
    wanted = [u for u in _URL.findall(user) if u not in fetched]
    if wanted:
        calls = [("web_fetch", json.dumps({"url": url})) for url in wanted]
        return tool_calls(
            calls,
            prompt_tokens=tokens.prompt_tokens(body),
            completion_tokens=tokens.completion_tokens(None, calls),
            model=MODEL,
        )
    pages = "\n".join(m["content"] for m in messages if m["role"] == "tool")
    commits = {m["sha"]: unescape(m["subject"]) for m in _COMMIT_LINK.finditer(pages)}
    commits.update({m["sha"]: m["subject"] for m in _COMMIT_MD.finditer(pages)})
    stories = {m["url"]: unescape(m["title"]) for m in _STORY_LINK.finditer(pages)}
    stories.update({m["url"]: m["title"] for m in _STORY_MD.finditer(pages)})
    lines = ["# Daily digest", "", "## Commits", ""]
    lines += [f"- {sha[:7]} {subject}" for sha, subject in reversed(commits.items())]  # oldest first
    lines += ["", "## Tech highlights", ""]
    lines += [f"- {stories[url]} — {takeaway(stories[url])} ({url})" for url in _picks(stories)]
    lines += ["", "## Action items (if any)", "", "None today."]
    return "\n".join(lines)


def _answer(request: RecordedRequest) -> Step:
    body = request.body or {}
    if body.get("response_format"):
        content = _structured(body)
    elif any(t["function"]["name"] == "web_fetch" for t in body.get("tools") or []):
        answered = _agentic(body)
        if isinstance(answered, Step):
            return answered
        content = answered
    else:
        content = "This stand-in only answers the digest's two designs."
    return reply(
        content,
        prompt_tokens=tokens.prompt_tokens(body),
        completion_tokens=tokens.completion_tokens(content),
        model=MODEL,
    )


@dataclass
class TokenLedger:
    """What the stand-in has been asked and answered since it was made (or last reset)."""

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def answer(self, request: RecordedRequest) -> Step:
        step = _answer(request)
        assert isinstance(step.payload, dict)
        usage = step.payload["usage"]
        with self._lock:
            self.calls += 1
            self.prompt_tokens += usage["prompt_tokens"]
            self.completion_tokens += usage["completion_tokens"]
        return step

    def take(self) -> tuple[int, int, int]:
        """(calls, prompt tokens, completion tokens) since the last take, and start again."""
        with self._lock:
            spent = (self.calls, self.prompt_tokens, self.completion_tokens)
            self.calls = self.prompt_tokens = self.completion_tokens = 0
        return spent


def digest_model_server() -> tuple[ScriptedModelServer, TokenLedger]:
    """The stand-in, not started yet, and the ledger of the tokens it counted."""
    ledger = TokenLedger()
    server = ScriptedModelServer()
    server.default_step = respond(ledger.answer)
    return server, ledger
