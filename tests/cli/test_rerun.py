"""A stored digest run replayed (cli/rerun.py, through `agentjobs eval`): the digest's own plan and
checks on the stored snapshot, its files in the eval's folder; a model that breaks the contract is a
failed row of the report, not a failed command."""

from __future__ import annotations

import hashlib
import json
from datetime import date

import pytest

from agentjobs.sources.demo_feed import render_demo_feed
from tests.cli.helpers import agentjobs
from tests.fakes.model_server import ScriptedModelServer, reply, respond
from tests.scenarios.digest_job import make_repo, pick_first_refs

DAY = "2026-11-24"


@pytest.fixture(scope="module")
def digest_run(tmp_path_factory):
    """One stored run of the daily digest, made by `agentjobs digest` on a scripted endpoint."""
    root = tmp_path_factory.mktemp("rerun")
    repo = make_repo(root / "repo", [("2026-11-24T09:00:00+00:00", "Teach the digest to count")])
    feed = root / "feed.xml"
    feed.write_text(render_demo_feed(date(2026, 11, 24)))
    out = root / "out"
    with ScriptedModelServer() as server:
        server.default_step = respond(pick_first_refs)
        env = {"OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": "k", "AGENTJOBS_MODEL": "scripted"}
        args = ("--repo", str(repo), "--feed", str(feed), "--date", DAY, "--timezone", "UTC")
        made = agentjobs("digest", *args, "--out", str(out), env=env, cwd=root)
    assert made.returncode == 0, made.stderr[-2000:]
    return out


def _eval(out, fn, tmp_path):
    with ScriptedModelServer() as other:
        other.default_step = respond(fn)
        conn = {
            "conn_type": "agentjobs_llm",
            "host": other.base_url,
            "password": "k",
            "extra": {"model": "m2"},
        }
        env = {"AIRFLOW_CONN_OTHER": json.dumps(conn)}
        result = agentjobs(
            "eval",
            "daily_digest",
            "--runs",
            "1",
            "--llm-conn",
            "other",
            "--json",
            "--out",
            str(out),
            env=env,
            cwd=tmp_path,
        )
    assert result.returncode == 0, result.stderr[-3000:]
    (row,) = json.loads(result.stdout)["rows"]
    return row, json.loads(result.stdout)["eval_id"]


def test_a_digest_rerun_renders_and_checks_in_its_own_folder(digest_run, tmp_path):
    run = digest_run / "daily_digest" / DAY
    delivered = hashlib.sha256((run / "digest.md").read_bytes()).hexdigest()

    def cheaper(request):
        step = pick_first_refs(request)
        body = json.loads(step.payload["choices"][0]["message"]["content"])
        return reply(json.dumps(body), prompt_tokens=200, completion_tokens=20)

    row, eval_id = _eval(digest_run, cheaper, tmp_path)
    assert row["run"] == DAY and row["team"] is None
    assert row["delivered"]["contract_ok"] and row["delivered"]["tokens"] == 460  # the stored transcript's
    assert row["delivered"]["model"] == "scripted"
    assert row["evaluated"]["contract_ok"], row["evaluated"]["error"]
    assert row["evaluated"]["tokens"] == 220 and row["evaluated"]["model"] == "m2"
    assert row["evaluated"]["items"] == row["delivered"]["items"]
    folder = run / "eval" / eval_id
    assert (folder / "digest.md").read_text() == (run / "digest.md").read_text()  # same answer, same digest
    assert hashlib.sha256((run / "digest.md").read_bytes()).hexdigest() == delivered


def test_a_model_that_breaks_the_contract_is_a_failed_row(digest_run, tmp_path):
    def off_the_list(request):
        return reply(json.dumps({"highlights": [{"ref": "not-a-ref", "takeaway": "x"}], "action_items": []}))

    row, _ = _eval(digest_run, off_the_list, tmp_path)
    assert row["delivered"]["contract_ok"] is True
    assert row["evaluated"]["contract_ok"] is False
    assert row["evaluated"]["error"].startswith("ContractViolation")
    assert row["evaluated"]["calls"] == 2  # the answer and its one repair turn, as the job's own run
