"""The `agentjobs` command as a user runs it (a subprocess), and the scripted endpoint it talks to."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO
from tests.fakes.model_server import reply, respond


def agentjobs(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "AGENTJOBS", "OPENAI"))}
    return subprocess.run(
        [sys.executable, "-m", "agentjobs.cli", *args],
        env={**clean, "AGENTJOBS_PROJECT_DIR": str(REPO), **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )


def pick_the_listed_metrics(request):
    body = request.body["response_format"]["json_schema"]["schema"]["properties"]
    if "explanations" in body:
        ids = body["explanations"]["required"]
        return reply(json.dumps({"explanations": {i: "Check it first" for i in ids}}))
    metrics = re.findall(r"^- metric: (\S+) \|", request.body["messages"][-1]["content"], flags=re.M)[:3]
    return reply(json.dumps({"findings": [{"metric": m, "comment": "Worth a look"} for m in metrics]}))


def endpoint_env(model_server) -> dict[str, str]:
    model_server.default_step = respond(pick_the_listed_metrics)
    return {
        "OPENAI_BASE_URL": model_server.base_url,
        "OPENAI_API_KEY": "sk-cli",
        "AGENTJOBS_MODEL": "scripted",
    }
