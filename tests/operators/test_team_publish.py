"""One team's publish task on its own (a documenting kind): the PDF of exactly the validated report
is stored once through the ledger, the team's message is the report plus where the PDF is, a
rerun stores nothing again, and a stored PDF of another report is refused for good with the fix."""

from __future__ import annotations

import hashlib
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from agentjobs.delivery.ledger import DeliveryLedger
from agentjobs.jobs.kinds.base import TeamSnapshot
from agentjobs.operators.errors import PermanentTaskError
from agentjobs.operators.team_publish import MESSAGE_FILE, ReportNotStored, TeamPublishOperator, message
from tests.operators.tally import DAG_ID, PERIOD, TEAM, TEAM_RUN, tally_spec, write_snapshot

REPORT = "# Team tally — Berlin, 2026-11-24\n\n3 transaction(s) yesterday.\n\nA steady day.\n"


class Documenting:
    """team_tally with a `document` (a `Documents` kind): its "PDF" is the report's bytes, marked."""

    def __init__(self, tally: Any) -> None:
        self.tally = tally

    def __getattr__(self, name: str) -> Any:
        return getattr(self.tally, name)

    def document(self, snapshot: TeamSnapshot, markdown: str, settings: Any) -> bytes:
        return b"%PDF-test\n" + markdown.encode()

    def document_name(self, snapshot: TeamSnapshot) -> str:
        return f"tally-{snapshot.period.key}.pdf"


@pytest.fixture
def spec(installed_kinds, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    from agentjobs_tally import KIND

    settings = SimpleNamespace(
        storage=None, storage_conn_id=None, local_hour=8
    )  # no storage: the team's folder
    monkeypatch.setattr("agentjobs.operators.team_task.job_kind", lambda spec: (Documenting(KIND), settings))
    job = tally_spec(monkeypatch, tmp_path)
    write_snapshot(3)
    return job


def validated(report: str = REPORT) -> dict[str, Any]:
    from agentjobs.jobs.team_run import team_dir

    artifact = team_dir(DAG_ID, TEAM, PERIOD) / "tally.md"
    artifact.write_text(report)
    sha = hashlib.sha256(artifact.read_bytes()).hexdigest()
    return {"team": TEAM, "period": PERIOD, "result": {"items": 3}, "artifact": str(artifact), "sha256": sha}


def publish(spec, pushed: dict[str, Any], **params: Any) -> dict[str, Any]:
    # A task instance as the run-file sync reads it (its scratch folder is named after the try).
    ti = SimpleNamespace(
        dag_id=DAG_ID,
        run_id="scheduled__2026-11-25",
        task_id="team.publish",
        map_index=0,
        try_number=1,
        xcom_pull=lambda task_ids, map_indexes: pushed,
    )
    operator = TeamPublishOperator(task_id="team.publish", spec=spec, team_run=TEAM_RUN)
    return operator.execute({"ti": ti, "params": params, "run_id": "scheduled__2026-11-25"})


def test_the_validated_reports_pdf_is_stored_once_and_linked_in_the_teams_message(spec):
    pushed = validated()
    folder = Path(pushed["artifact"]).parent
    handed = publish(spec, pushed)
    pdf = folder / "tally-2026-11-24.pdf"
    assert pdf.read_bytes() == b"%PDF-test\n" + REPORT.encode()
    uri = pdf.resolve().as_uri()
    assert handed["report"]["uri"] == uri and handed["report"]["markdown_sha256"] == pushed["sha256"]
    # The deliver task reads validate's shape: the message in place of the report.
    text = (folder / MESSAGE_FILE).read_text()
    assert text == f"{REPORT.rstrip()}\n\n## The PDF\n\n`{uri}`\n"
    assert handed["artifact"] == str(folder / MESSAGE_FILE)
    assert handed["sha256"] == hashlib.sha256(text.encode()).hexdigest()
    assert handed["result"] == pushed["result"] and handed["team"] == TEAM
    (row,) = DeliveryLedger.from_conn_id(spec.ledger_conn_id).history(
        job=f"{DAG_ID}/{TEAM}", logical_date=PERIOD
    )
    assert (row.channel, row.target) == ("report", uri)

    pdf.write_bytes(b"tampered")  # a rerun stores nothing: the ledger says it was stored
    assert publish(spec, pushed)["report"]["uri"] == uri and pdf.read_bytes() == b"tampered"


def test_a_rerun_with_a_new_report_is_refused_until_forced_to_store_it(spec):
    publish(spec, validated())
    changed = validated(REPORT.replace("A steady day.", "A quiet day."))
    with pytest.raises(ReportNotStored) as refused:
        publish(spec, changed)
    assert isinstance(refused.value, PermanentTaskError)
    assert str(refused.value).startswith(f"{TEAM} {PERIOD}: file://")
    assert str(refused.value).endswith(
        "was stored from an earlier report.md than this run's; trigger with force_redeliver=true to store "
        "and send this one"
    )

    forced = publish(spec, changed, force_redeliver=True)
    assert forced["report"]["markdown_sha256"] == changed["sha256"]
    assert b"A quiet day." in Path(forced["report"]["uri"].removeprefix("file://")).read_bytes()


def test_another_document_already_at_the_location_is_not_overwritten(spec):
    pushed = validated()
    pdf = Path(pushed["artifact"]).parent / "tally-2026-11-24.pdf"
    pdf.write_bytes(b"%PDF someone else's")
    with pytest.raises(ReportNotStored, match=rf"^{TEAM} {PERIOD}: file://.* already holds another document"):
        publish(spec, pushed)
    assert pdf.read_bytes() == b"%PDF someone else's"


def test_the_pdfs_location_is_shown_as_code_and_a_backtick_cannot_end_it():
    text = message("# Report\n\n", "s3://reports/t1/a`b.pdf")
    assert text == "# Report\n\n## The PDF\n\n`s3://reports/t1/a%60b.pdf`\n"


def test_on_a_run_file_store_the_pdf_goes_into_the_teams_folder_there_once_whichever_host(
    spec, tmp_path, monkeypatch
):
    import shutil

    from agentjobs.jobs.team_run import team_dir

    pushed = validated()
    store = tmp_path / "store"
    shutil.copytree(team_dir(DAG_ID, TEAM, PERIOD), store / DAG_ID / TEAM / PERIOD)
    url = store.as_uri()
    monkeypatch.setenv("AIRFLOW__AGENTJOBS__RUN_FILES", url)
    folder = f"{url}/{DAG_ID}/{TEAM}/{PERIOD}"
    pushed["artifact"] = f"{folder}/tally.md"  # as validate, on another host, handed it on

    first, again = publish(spec, pushed), publish(spec, pushed)  # each task in a scratch of its own
    pdf = store / DAG_ID / TEAM / PERIOD / "tally-2026-11-24.pdf"
    assert pdf.read_bytes() == b"%PDF-test\n" + REPORT.encode()
    assert first["report"]["uri"] == again["report"]["uri"] == f"{folder}/tally-2026-11-24.pdf"
    assert first["artifact"] == f"{folder}/{MESSAGE_FILE}"
    assert f"`{folder}/tally-2026-11-24.pdf`" in (store / DAG_ID / TEAM / PERIOD / MESSAGE_FILE).read_text()
    rows = DeliveryLedger.from_conn_id(spec.ledger_conn_id).history(
        job=f"{DAG_ID}/{TEAM}", logical_date=PERIOD
    )
    assert [(r.channel, r.target, r.status) for r in rows] == [
        ("report", f"{folder}/tally-2026-11-24.pdf", "sent")
    ]
