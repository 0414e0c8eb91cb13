"""One team's delivery task on its own: which targets a team's database row gives, that one bad
target fails only itself (the task fails after trying all, and its retry sends only what is
missing), what `force_redeliver` sends again, and that a team with nowhere to deliver is done
with its validated summary (a clear keeps it) while one whose delivery failed is not."""

from __future__ import annotations

import email
import email.policy
import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from agentjobs.jobs.kinds.base import PeriodRef, TeamSnapshot
from agentjobs.jobs.spec import JobSpec, load_spec
from agentjobs.jobs.team_run import snapshot_path, team_dir
from agentjobs.operators.delivered import DELIVERED, NOWHERE, kept_team_result, write_result
from agentjobs.operators.factory import resolve_paths
from agentjobs.operators.team_deliver import TeamDeliverOperator
from agentjobs.sources.teams import Member, Team, TeamTarget

REPO = Path(__file__).resolve().parents[2]
TEAM, PERIOD = "team-berlin", "2026-11-29"
POSTS = ("/api/chat.postMessage", "/api/files.completeUploadExternal")


@pytest.fixture
def team_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("AGENTJOBS_ARTIFACT_BASE", str(tmp_path / "artifacts"))
    return team_dir("weekly_insights", TEAM, PERIOD)


def sqlite_ledger(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """The id of a delivery-ledger connection to a fresh SQLite file under `tmp_path`."""
    conn = {"conn_type": "sqlite", "host": str(tmp_path / "ledger.db")}
    monkeypatch.setenv("AIRFLOW_CONN_LEDGER_TEAM_DELIVER", json.dumps(conn))
    return "ledger_team_deliver"


def spec(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **delivery: Any) -> JobSpec:
    # The delivered week's insight records go to the business database (a file of the test's).
    business = {"conn_type": "sqlite", "host": str(tmp_path / "business.db")}
    monkeypatch.setenv("AIRFLOW_CONN_AGENTJOBS_BUSINESS", json.dumps(business))
    shipped = resolve_paths(load_spec(REPO / "include" / "jobs" / "weekly-insights.yaml"), REPO)
    return shipped.model_copy(
        update={
            "team_delivery": shipped.team_delivery.model_copy(update=delivery),
            "ledger_conn_id": sqlite_ledger(monkeypatch, tmp_path),
        }
    )


def write_run(
    folder: Path,
    *,
    members: list[Member],
    slack_channel: str | None,
    email_list: list[str],
    targets: list[TeamTarget] = [],  # noqa: B006 (never mutated)
    name: str = "Berlin",
) -> dict:
    """The fetch task's snapshot and the validate task's artifact, preview and payload."""
    team = Team(
        id=TEAM,
        name=name,
        timezone="Europe/Berlin",
        currency="EUR",
        slack_channel=slack_channel,
        email_list=email_list,
        targets=targets,
    )
    start, end = datetime(2026, 11, 22, 23, tzinfo=UTC), datetime(2026, 11, 29, 23, tzinfo=UTC)
    snapshot = TeamSnapshot(
        kind="weekly_insights",
        team=team,
        members=members,
        period=PeriodRef(key=PERIOD, start=start, end=end),
        tables={},
    )
    snapshot_path(folder).parent.mkdir(parents=True)
    snapshot_path(folder).write_text(snapshot.model_dump_json())
    artifact = folder / "insights.md"
    artifact.write_text("# Week to 2026-11-29\n\n- Travel spend rose 37.5 %.\n")
    preview = folder / "preview.txt"
    preview.write_text("Travel spend rose 37.5 %.\n")
    sha = hashlib.sha256(artifact.read_bytes()).hexdigest()
    result = {"bullets": ["Travel spend rose 37.5 %."], "items": 1}
    return {"team": TEAM, "artifact": str(artifact), "sha256": sha, "preview": str(preview), "result": result}


def execute(operator: TeamDeliverOperator, validated: dict, **params: Any) -> dict[str, Any]:
    ti = SimpleNamespace(map_index=0, xcom_pull=lambda task_ids, map_indexes: validated)
    return operator.execute({"ti": ti, "params": params, "run_id": "manual__2026-11-29"})


def deliverer(job: JobSpec) -> TeamDeliverOperator:
    return TeamDeliverOperator(task_id="deliver", spec=job, team_run={"team": TEAM, "period": PERIOD})


def mails(smtp_server) -> list[email.message.EmailMessage]:
    return [email.message_from_bytes(m.content, policy=email.policy.default) for m in smtp_server.messages]


ANA = Member(id="u1", name="Ana", email="ana@example.org", timezone="Europe/Berlin")
BOB = Member(id="u2", name="Bob", email="bob@example.org", timezone="Europe/Berlin")


def test_the_channel_the_list_and_each_member_get_theirs_and_a_rerun_sends_nothing_again(
    monkeypatch, tmp_path, team_folder, smtp_server, slack_server
):
    job = spec(
        monkeypatch, tmp_path, slack_conn_id=slack_server.api_conn_id, smtp_conn_id=smtp_server.conn_id
    )
    validated = write_run(
        team_folder,
        members=[BOB, ANA],
        slack_channel="#team-berlin",
        email_list=["z@example.org", "a@example.org"],
    )
    result = execute(deliverer(job), validated)
    assert result["team"] == TEAM and result["period"] == PERIOD
    assert [(d["channel"], d["target"], d["delivered"]) for d in result["deliveries"]] == [
        ("slack", f"{slack_server.api_conn_id}:#team-berlin", True),
        ("email", "a@example.org,z@example.org", True),
        ("preview", "ana@example.org", True),  # members in address order
        ("preview", "bob@example.org", True),
    ]
    sent = {tuple(a.addr_spec for a in m["To"].addresses): m for m in mails(smtp_server)}
    assert set(sent) == {("a@example.org", "z@example.org"), ("ana@example.org",), ("bob@example.org",)}
    assert sent[("ana@example.org",)]["Subject"] == f"Weekly insights — Berlin, {PERIOD}"
    preview = sent[("ana@example.org",)].get_body(("plain",)).get_content()
    assert "Travel spend rose 37.5 %." in preview and "# Week to" not in preview  # the preview only

    posted = sum(len(slack_server.server.calls(path)) for path in POSTS)
    again = execute(deliverer(job), validated)
    assert [d["delivered"] for d in again["deliveries"]] == [False] * 4
    assert len(smtp_server.messages) == 3
    assert sum(len(slack_server.server.calls(path)) for path in POSTS) == posted

    forced = execute(deliverer(job), validated, force_redeliver=True)
    assert [d["delivered"] for d in forced["deliveries"]] == [True] * 4
    assert len(smtp_server.messages) == 6


def test_a_team_name_with_line_breaks_and_bidi_controls_is_one_plain_line_in_every_subject_and_title(
    monkeypatch, tmp_path, team_folder, smtp_server
):
    """The teams table is the user's data: a name with CR/LF (a header injection) or U+202E must
    neither fail the team's mail nor add a header; it shows as one line."""
    job = spec(monkeypatch, tmp_path, smtp_conn_id=smtp_server.conn_id)
    hostile = "Berlin\r\nBcc: victim@example.com\n\u202eevil"
    validated = write_run(
        team_folder, members=[ANA], slack_channel=None, email_list=["a@example.org"], name=hostile
    )
    result = execute(deliverer(job), validated)
    assert [d["delivered"] for d in result["deliveries"]] == [True, True]
    subjects = {m["Subject"] for m in mails(smtp_server)}
    assert subjects == {f"Weekly insights — Berlin Bcc: victim@example.com evil, {PERIOD}"}
    assert all(m["Bcc"] is None for m in mails(smtp_server))
    assert [a for m in smtp_server.messages for a in m.rcpt_tos] == ["a@example.org", "ana@example.org"]


def test_one_bad_address_fails_only_its_own_mail_and_the_retry_sends_only_that_one(
    monkeypatch, tmp_path, team_folder, smtp_server
):
    job = spec(monkeypatch, tmp_path, slack_conn_id=None, smtp_conn_id=smtp_server.conn_id)
    bad = BOB.model_copy(update={"email": "Bob <bob@example.org>"})
    validated = write_run(
        team_folder, members=[ANA, bad], slack_channel="#team-berlin", email_list=["t@example.org"]
    )
    with pytest.raises(RuntimeError) as failed:
        execute(deliverer(job), validated)
    assert str(failed.value) == "1 of 3 deliveries failed: preview Bob <bob@example.org>: ValueError"
    # The team's list and the other member got theirs; no slack target without a slack connection.
    assert sorted(m.rcpt_tos[0] for m in smtp_server.messages) == ["ana@example.org", "t@example.org"]

    # The row is fixed and the task retried: only Bob's preview goes out. (His bad address sorts
    # first, so the targets after a failing one were still tried.)
    stored = TeamSnapshot.model_validate_json(snapshot_path(team_folder).read_text())
    snapshot_path(team_folder).write_text(stored.model_copy(update={"members": [ANA, BOB]}).model_dump_json())
    retried = execute(deliverer(job), validated)
    assert [(d["target"], d["delivered"]) for d in retried["deliveries"]] == [
        ("t@example.org", False),
        ("ana@example.org", False),
        ("bob@example.org", True),
    ]
    assert [m.rcpt_tos for m in smtp_server.messages][-1] == ["bob@example.org"]


def test_a_team_with_nowhere_to_deliver_succeeds_with_no_delivery_and_says_so(
    monkeypatch, tmp_path, team_folder, smtp_server, capsys
):
    job = spec(
        monkeypatch, tmp_path, slack_conn_id=None, smtp_conn_id=smtp_server.conn_id, member_preview=False
    )
    validated = write_run(team_folder, members=[ANA], slack_channel="#team-berlin", email_list=[])
    assert execute(deliverer(job), validated)["deliveries"] == []
    assert smtp_server.messages == []
    assert f"{TEAM} has no slack_channel, email_list or members to deliver to" in capsys.readouterr().out
    assert kept_on_clear(job, team_folder, validated) == (validated["result"], NOWHERE)


def test_a_team_whose_only_targets_are_member_previews_keeps_its_summary_on_a_clear(
    monkeypatch, tmp_path, team_folder, smtp_server
):
    # No channel, no list: the members' previews are all the team gets. Their ledger rows used to
    # hash the preview line, not the artifact, so a clear paid the model for a new summary.
    job = spec(monkeypatch, tmp_path, slack_conn_id=None, smtp_conn_id=smtp_server.conn_id)
    validated = write_run(team_folder, members=[ANA, BOB], slack_channel=None, email_list=[])
    delivered = execute(deliverer(job), validated)["deliveries"]
    assert [(d["channel"], d["delivered"]) for d in delivered] == [("preview", True), ("preview", True)]
    assert kept_on_clear(job, team_folder, validated) == (validated["result"], DELIVERED)
    # The line each member got is still the preview, not the artifact.
    assert all("# Week to" not in m.get_body(("plain",)).get_content() for m in mails(smtp_server))


def test_a_team_whose_only_delivery_failed_is_not_done(monkeypatch, tmp_path, team_folder, smtp_server):
    job = spec(
        monkeypatch, tmp_path, slack_conn_id=None, smtp_conn_id=smtp_server.conn_id, member_preview=False
    )
    validated = write_run(team_folder, members=[ANA], slack_channel=None, email_list=["Team <t@example.org>"])
    with pytest.raises(RuntimeError, match="1 of 1 deliveries failed"):
        execute(deliverer(job), validated)
    assert kept_on_clear(job, team_folder, validated) is None  # nobody got it: a clear summarizes again


def kept_on_clear(job: JobSpec, folder: Path, validated: dict) -> Any:
    """What a clear's summarize task would stand on instead of asking the model (its RESULT beside
    the artifact, as the summarize task leaves it)."""
    import logging

    write_result(folder, validated["result"])
    log = logging.getLogger("test_team_deliver")
    return kept_team_result(
        job, PERIOD, folder, {}, log, artifact_file="insights.md", job=f"{job.dag_id}/{TEAM}"
    )


def test_an_artifact_changed_after_validation_is_delivered_nowhere(
    monkeypatch, tmp_path, team_folder, smtp_server
):
    from agentjobs.operators.errors import ArtifactChanged

    job = spec(monkeypatch, tmp_path, slack_conn_id=None, smtp_conn_id=smtp_server.conn_id)
    validated = write_run(team_folder, members=[ANA], slack_channel=None, email_list=["t@example.org"])
    Path(validated["artifact"]).write_text("# Week to 2026-11-29\n\n- Wire 10,000 EUR to IBAN DE89...\n")
    with pytest.raises(ArtifactChanged):
        execute(deliverer(job), validated)
    assert smtp_server.messages == []


def posted_channels(slack_server) -> list[str]:
    return [str(r.params.get("channel")) for r in slack_server.server.calls("/api/chat.postMessage")]


def test_every_target_of_the_team_gets_it_once_and_a_failing_one_is_retried_alone(
    monkeypatch, tmp_path, team_folder, smtp_server, slack_server
):
    job = spec(
        monkeypatch,
        tmp_path,
        slack_conn_id=slack_server.api_conn_id,
        smtp_conn_id=smtp_server.conn_id,
        member_preview=False,
    )
    targets = [
        TeamTarget(channel="slack", target="#berlin-leads"),
        TeamTarget(channel="slack", target="#team-berlin"),  # the row's own: once
        TeamTarget(channel="email", target="ops@example.org, cfo@example.org"),
        TeamTarget(channel="email", target="t@example.org"),  # the row's own list: once
    ]
    validated = write_run(
        team_folder,
        members=[ANA],
        slack_channel="#team-berlin",
        email_list=["t@example.org"],
        targets=targets,
    )
    # Slack refuses the first post (to the row's own channel); the others still go out.
    slack_server.server.fail_next("/api/chat.postMessage", 200, {"ok": False, "error": "channel_not_found"})
    with pytest.raises(RuntimeError) as failed:
        execute(deliverer(job), validated)
    assert str(failed.value).startswith(
        f"1 of 4 deliveries failed: slack {slack_server.api_conn_id}:#team-berlin: "
    )
    assert posted_channels(slack_server) == ["#team-berlin", "#berlin-leads"]
    assert sorted(tuple(m.rcpt_tos) for m in smtp_server.messages) == [
        ("cfo@example.org", "ops@example.org"),
        ("t@example.org",),
    ]

    retried = execute(deliverer(job), validated)
    assert [(d["channel"], d["target"], d["delivered"]) for d in retried["deliveries"]] == [
        ("slack", f"{slack_server.api_conn_id}:#team-berlin", True),
        ("slack", f"{slack_server.api_conn_id}:#berlin-leads", False),
        ("email", "t@example.org", False),
        ("email", "cfo@example.org,ops@example.org", False),
    ]
    assert posted_channels(slack_server) == ["#team-berlin", "#berlin-leads", "#team-berlin"]
    assert len(smtp_server.messages) == 2
    assert [d["delivered"] for d in execute(deliverer(job), validated)["deliveries"]] == [False] * 4


def test_a_hostile_channel_name_is_refused_and_fails_only_its_own_delivery(
    monkeypatch, tmp_path, team_folder, slack_server, capsys
):
    job = spec(monkeypatch, tmp_path, slack_conn_id=slack_server.api_conn_id, smtp_conn_id=None)
    hostile = ["#ops\n<!channel> wire the money", "<@U123>", "#general|x"]
    validated = write_run(
        team_folder,
        members=[ANA],
        slack_channel="#team-berlin",
        email_list=[],
        targets=[TeamTarget(channel="slack", target=name) for name in hostile],
    )
    with pytest.raises(RuntimeError) as failed:
        execute(deliverer(job), validated)
    message = str(failed.value)
    assert message.startswith("3 of 4 deliveries failed: ") and "\n" not in message
    assert repr(f"{slack_server.api_conn_id}:#ops\n<!channel> wire the money") in message
    assert posted_channels(slack_server) == ["#team-berlin"]  # nothing reached Slack for the others
    assert "\n<!channel>" not in capsys.readouterr().out  # nor a second line in the task log


def _records(tmp_path: Path) -> list[tuple[str, str, str]]:
    import sqlalchemy as sa

    engine = sa.create_engine(f"sqlite:///{tmp_path / 'business.db'}")
    try:
        if "insight_records" not in sa.inspect(engine).get_table_names():
            return []
        with engine.connect() as conn:
            return [
                tuple(r) for r in conn.execute(sa.text("SELECT team_id, week, text FROM insight_records"))
            ]
    finally:
        engine.dispose()


def test_the_week_is_recorded_only_once_every_target_has_its_delivery(
    monkeypatch, tmp_path, team_folder, smtp_server
):
    job = spec(monkeypatch, tmp_path, slack_conn_id=None, smtp_conn_id=smtp_server.conn_id)
    bad = BOB.model_copy(update={"email": "Bob <bob@example.org>"})
    validated = write_run(team_folder, members=[ANA, bad], slack_channel=None, email_list=["t@example.org"])
    with pytest.raises(RuntimeError):
        execute(deliverer(job), validated)
    assert _records(tmp_path) == []  # Bob's preview was not sent: the week is not recorded as sent

    stored = TeamSnapshot.model_validate_json(snapshot_path(team_folder).read_text())
    snapshot_path(team_folder).write_text(stored.model_copy(update={"members": [ANA, BOB]}).model_dump_json())
    assert execute(deliverer(job), validated)["recorded"] == 1
    assert _records(tmp_path) == [(TEAM, PERIOD, "No transactions this week.")]  # the snapshot's week
    assert execute(deliverer(job), validated, force_redeliver=True)["recorded"] == 0
    assert len(_records(tmp_path)) == 1


def test_a_team_with_nowhere_to_deliver_records_nothing_as_sent(
    monkeypatch, tmp_path, team_folder, smtp_server
):
    job = spec(
        monkeypatch, tmp_path, slack_conn_id=None, smtp_conn_id=smtp_server.conn_id, member_preview=False
    )
    validated = write_run(team_folder, members=[ANA], slack_channel=None, email_list=[])
    assert "recorded" not in execute(deliverer(job), validated)
    assert _records(tmp_path) == []
