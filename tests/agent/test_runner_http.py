"""http_get's host allowlist is set in the skill's frontmatter, the place its refusals name."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import openai
import pytest

from agentjobs.agent.budget import BudgetMeter, Prices
from agentjobs.agent.caps import Caps
from agentjobs.agent.model_client import EndpointOptions, ModelClient
from agentjobs.agent.runner import RunPlan, run_skill
from agentjobs.agent.skills import load_skill
from tests.agent.test_skills import write_skill
from tests.fakes.model_server import reply, tool_call


class _Page(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"the loopback page"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def page_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/page"
    server.shutdown()
    server.server_close()


def fetch_through_skill(model_server, tmp_path: Path, url: str, allowlist_line: str) -> str:
    """Run a skill whose model calls http_get(url) once; return the tool result it was fed."""
    frontmatter = f"name: fetcher\ndescription: Fetch a page.\n{allowlist_line}"
    write_skill(tmp_path / "skills", "fetcher", frontmatter)
    skill = load_skill("fetcher", tmp_path / "skills")
    model_server.script(tool_call("http_get", {"url": url}), reply("Done.\nRESULT: {}"))
    client = ModelClient(
        openai.OpenAI(base_url=model_server.base_url, api_key="sk-test", max_retries=0),
        "m",
        EndpointOptions(max_tokens_per_call=1024, request_timeout_s=10),
    )
    # allow_private_addresses: only so the fake page on loopback is reachable at all.
    run = RunPlan(skill=skill, prompt="go", work_dir=tmp_path / "work", allow_private_addresses=True)
    run_skill(run, client, BudgetMeter(Caps(), Prices()))
    fed_back = model_server.requests[-1].body["messages"][-1]  # the call after the tool ran
    assert fed_back["role"] == "tool"
    return fed_back["content"]


def test_a_skill_that_allows_the_host_can_http_get_it(model_server, tmp_path, page_url):
    result = fetch_through_skill(model_server, tmp_path, page_url, "http_allowlist: [127.0.0.1]\n")
    assert result.startswith("HTTP 200") and "the loopback page" in result


def test_a_skill_that_does_not_is_refused_with_where_to_allow_it(model_server, tmp_path, page_url):
    result = fetch_through_skill(model_server, tmp_path, page_url, "")
    assert result.startswith("ERROR") and "add '127.0.0.1' to the skill's http_allowlist" in result
    other = fetch_through_skill(model_server, tmp_path, page_url, "http_allowlist: [example.org]\n")
    assert "host '127.0.0.1' is not in the HTTP allowlist ['example.org']" in other
    assert "add it to the skill's http_allowlist" in other
