"""A fan-out job on the UI page: one row per team served, each with its own usage, contract and
deliveries (the ledger's `<dag_id>/<team>` rows), and its own run page."""

from __future__ import annotations

import pytest
import yaml

from tests.airflow.conftest import run_dag, xcom
from tests.fakes.model_server import respond
from tests.jobs.business import serving_instant, shipped_spec, team_states
from tests.scenarios.test_anomaly_flags import explain_every_flag
from tests.scenarios.test_chunked_steps import reconcile_job  # noqa: F401 (a fixture)
from tests.ui.helpers import PREFIX, admin, client

pytestmark = pytest.mark.airflow


def test_each_team_of_a_fan_out_run_is_a_row_with_its_own_numbers_and_deliveries(
    llm_conn, business_conn, business_db, slack_server, model_server, tmp_path, monkeypatch, auth_manager
):
    from agentjobs.delivery.ledger import DeliveryLedger
    from agentjobs.jobs.team_run import ledger_job
    from agentjobs.operators.factory import build_dag

    delivery = {"slack_conn_id": slack_server.api_conn_id, "smtp_conn_id": None, "member_preview": False}
    spec = shipped_spec("anomaly-flags.yaml", llm_conn, business_conn, team_delivery=delivery)
    jobs_dir = tmp_path / "jobs"
    jobs_dir.mkdir()
    (jobs_dir / f"{spec.dag_id}.yaml").write_text(yaml.safe_dump(spec.model_dump(mode="json")))
    monkeypatch.setenv("AGENTJOBS_JOBS_DIR", str(jobs_dir))
    truth = business_db.truth
    duplicate = next(d for d in truth.duplicate_charges if d.day == truth.last_day)
    model_server.default_step = respond(explain_every_flag)
    run = run_dag(build_dag(spec), logical_date=serving_instant(spec, duplicate.team_id, duplicate.day))
    assert set(team_states(run).values()) == {"success"}

    served = xcom(run, "fetch")
    http = client(admin())
    rows = http.get(f"{PREFIX}/api/runs", params={"job": spec.dag_id}).json()["runs"]
    assert sorted((r["team"], r["period"], r["map_index"]) for r in rows) == sorted(
        (s["team"], s["period"], i) for i, s in enumerate(served)
    )
    ledger = DeliveryLedger.from_conn_id(spec.ledger_conn_id)
    for row in rows:
        pushed = xcom(run, "team.summarize", map_index=row["map_index"])
        usage = pushed["usage"]
        assert (row["iterations"], row["prompt_tokens"], row["completion_tokens"]) == (
            usage["iterations"],
            usage["prompt_tokens"],
            usage["completion_tokens"],
        )
        assert row["contract"] == "passed" and row["items"] == pushed["result"]["items"]
        history = ledger.history(job=ledger_job(spec.dag_id, row["team"]), logical_date=row["period"])
        assert history, row["team"]
        assert [(d["channel"], d["target"], d["status"]) for d in row["deliveries"]] == [
            (r.channel, r.target, r.status) for r in history
        ]
    # The team with the planted duplicate charge: its own artifact on its own page.
    (flagged,) = [r for r in rows if r["team"] == duplicate.team_id]
    page = http.get(
        f"{PREFIX}/runs/{spec.dag_id}/{run.run_id}/team.summarize", params={"map_index": flagged["map_index"]}
    ).text
    assert duplicate.duplicate_id in page and f"/mapped/{flagged['map_index']}/details" in page


def test_each_team_of_a_chunk_is_a_row_of_its_own_and_the_failed_one_says_so(
    llm_conn, smtp_server, model_server, tmp_path, monkeypatch, auth_manager
):
    from agentjobs.operators.factory import build_dag
    from tests.scenarios.test_chunked_fan_out import BROKEN, SUNDAY_NINE, TEAMS, job, top_metrics

    spec = job(llm_conn, smtp_server, monkeypatch, tmp_path, chunk_size=3)
    jobs_dir = tmp_path / "jobs"
    jobs_dir.mkdir()
    (jobs_dir / f"{spec.dag_id}.yaml").write_text(yaml.safe_dump(spec.model_dump(mode="json")))
    monkeypatch.setenv("AGENTJOBS_JOBS_DIR", str(jobs_dir))
    model_server.default_step = respond(top_metrics)
    run_dag(build_dag(spec), logical_date=SUNDAY_NINE)

    rows = client(admin()).get(f"{PREFIX}/api/runs", params={"job": spec.dag_id}).json()["runs"]
    by_team = {r["team"]: r for r in rows}
    assert sorted(by_team) == TEAMS and len(rows) == len(TEAMS)
    assert [by_team[t]["map_index"] for t in TEAMS] == [0, 0, 0, 1, 1, 1, 2]
    for team, row in by_team.items():
        if team == BROKEN:
            assert (row["state"], row["contract"], row["deliveries"]) == ("failed", "not checked", [])
            assert "upsets the model" in row["error"]
            continue
        assert (row["state"], row["contract"], row["iterations"], row["prompt_tokens"]) == (
            "success",
            "passed",
            1,
            400,
        )
        assert [(d["channel"], d["target"], d["status"]) for d in row["deliveries"]] == [
            ("email", f"{team}@example.org", "sent")
        ]
    # Each team's own page, though its chunk's teams share the task's map index.
    http = client(admin())
    path = f"{PREFIX}/runs/{spec.dag_id}/{by_team['team-4']['run_id']}/team.summarize"
    page = http.get(path, params={"map_index": 1, "team": "team-4"}).text
    assert "Team-4" in page and "Team-5" not in page
    assert http.get(path, params={"map_index": 1, "team": "team-0"}).status_code == 404


LOCKED = "team-la"  # the database refuses its judged receipts' ledger rows, so its apply fails


def lock_receipts(path) -> None:
    """A trigger refusing LOCKED's processed-records rows (another writer holding them)."""
    import sqlalchemy as sa

    engine = sa.create_engine(f"sqlite:///{path}")
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(
                f"CREATE TRIGGER locked BEFORE INSERT ON processed_records WHEN NEW.team_id = '{LOCKED}' "
                f"BEGIN SELECT RAISE(ABORT, 'the receipts of {LOCKED} are locked'); END"
            )
    finally:
        engine.dispose()


def test_a_team_whose_apply_failed_says_so_on_its_row_in_a_chunk_as_in_its_own_graph(
    reconcile_job,  # noqa: F811 (the fixture imported above)
    business_db,
    model_server,
    tmp_path,
    monkeypatch,
    auth_manager,
):
    from agentjobs.operators.factory import build_dag
    from tests.jobs.business import serving_instant
    from tests.scenarios.test_reconciliation import top_candidate

    per_team = reconcile_job("biz_ui_per_team", tmp_path / "per-team.db")
    chunked = reconcile_job("biz_ui_chunked", tmp_path / "chunked.db", chunks=2, concurrency=2)
    jobs_dir = tmp_path / "jobs"
    jobs_dir.mkdir()
    for spec in (per_team, chunked):
        (jobs_dir / f"{spec.dag_id}.yaml").write_text(yaml.safe_dump(spec.model_dump(mode="json")))
        lock_receipts(tmp_path / ("per-team.db" if spec is per_team else "chunked.db"))
    monkeypatch.setenv("AGENTJOBS_JOBS_DIR", str(jobs_dir))
    model_server.default_step = respond(top_candidate)
    when = serving_instant(per_team, "team-berlin", business_db.truth.last_day)
    runs = {spec.dag_id: run_dag(build_dag(spec), logical_date=when) for spec in (per_team, chunked)}
    assert all(run.state == "failed" for run in runs.values())

    http = client(admin())
    rows = {}
    for spec in (per_team, chunked):
        found = http.get(f"{PREFIX}/api/runs", params={"job": spec.dag_id}).json()["runs"]
        rows[spec.dag_id] = by_team = {r["team"]: r for r in found}
        assert len(by_team) == len(found) == 5, sorted(by_team)
        locked = by_team[LOCKED]
        # The agent's part went well; its apply did not, and the row says so and why.
        assert (locked["state"], locked["contract"], locked["failed_step"]) == ("success", "passed", "apply")
        assert f"the receipts of {LOCKED} are locked" in locked["error"]
        assert locked["deliveries"] == []  # nothing written, nothing sent
        for team, row in by_team.items():
            if team != LOCKED:
                assert (row["failed_step"], row["error"]) == (None, None), team
                assert [d["status"] for d in row["deliveries"]] == ["sent"], team
    # In its chunk, the locked team's row reads as in its own graph, though its neighbours
    # shared its apply task (the SQL's parameters below the first line hold the write's instant).
    ours, theirs = rows[chunked.dag_id][LOCKED], rows[per_team.dag_id][LOCKED]
    assert ours["failed_step"] == theirs["failed_step"]
    assert (
        ours["error"].splitlines()[0]
        == theirs["error"].splitlines()[0]
        == (f"IntegrityError: (sqlite3.IntegrityError) the receipts of {LOCKED} are locked")
    )
    neighbours = [r for r in rows[chunked.dag_id].values() if r["map_index"] == ours["map_index"]]
    assert len(neighbours) > 1

    # The runs page marks the row; the team's own page names the step and the reason.
    page = http.get(f"{PREFIX}/", params={"job": chunked.dag_id}).text
    assert page.count('data-field="failed_step">apply failed</span>') == 1
    path = f"{PREFIX}/runs/{chunked.dag_id}/{ours['run_id']}/team.summarize"
    own = http.get(path, params={"map_index": ours["map_index"], "team": LOCKED}).text
    assert 'data-field="failed_step">apply</td>' in own and f"the receipts of {LOCKED} are locked" in own
