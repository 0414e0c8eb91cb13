"""TeamPublishOperator: a validated report rendered to PDF, stored once, and linked in the message.

For a kind with a `document` (compliance_report), between validate and deliver. The PDF is the
rendering of the report.md the validate task passed (its sha256 is checked first, and printed
in the PDF's footer), so it can say nothing the check did not see. Storing it is a delivery of
its own in the ledger (channel `report`, target the object's URI, content the report.md): a
retry, clear or backfill stores nothing again, and a rerun that summarized anew keeps the report
as stored, since the summarize task finds report.md delivered. The team's message is report.md
plus the PDF's location (`message.md`), handed to the deliver task in validate's shape.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

# Modules only a running task needs are imported in the functions that use them: every DAG
# parse imports this module (bench/dag_parse.py).
from agentjobs.delivery import deliver, ledger_for
from agentjobs.delivery.deliver import sha256_file
from agentjobs.jobs.spec import JobSpec
from agentjobs.operators.base_init import init_base
from agentjobs.operators.errors import PermanentTaskError
from agentjobs.operators.team_task import TeamContext, TeamTaskOperator

MESSAGE_FILE = "message.md"
CHANNEL = "report"


class ReportNotStored(PermanentTaskError):
    """The report's PDF cannot be stored as this run's: another one is there."""


def message(markdown: str, uri: str) -> str:
    """The team's message: the validated report and where its PDF is (a code span: shown, not linked)."""
    return f"{markdown.rstrip()}\n\n## The PDF\n\n`{uri.replace('`', '%60')}`\n"


class TeamPublishOperator(TeamTaskOperator):
    ui_color = "#f3e8fc"

    def __init__(
        self, *, spec: JobSpec, team_run: Any, validate_task_id: str = "team.validate", **kwargs: Any
    ) -> None:
        init_base(self, **kwargs)
        self.spec, self.team_run = spec, team_run
        self.validate_task_id = validate_task_id

    def run(self, context: Any) -> dict[str, Any]:
        from agentjobs.operators.team_validated import pull_unchanged_artifact

        team = self.team_context()
        validated, artifact = pull_unchanged_artifact(context, self.validate_task_id, team.team_id)
        return self.publish_team(team, validated, artifact, context)

    def publish_team(
        self, team: TeamContext, validated: dict[str, Any], artifact: Path, context: Any
    ) -> dict[str, Any]:
        """Store `team`'s PDF once and write its message (a chunk's publish calls it once per
        team); validate's shape, for the deliver task, with the message as the artifact."""
        from agentjobs.atomic_file import write_atomically

        # Run-time only: the report store costs ~1.5 ms of every parse of the jobs DAG file.
        from agentjobs.delivery.report_store import Location, ReportConflict, location, store_once
        from agentjobs.operators.run_files import recorded, run_files_conn_id

        kind, settings, team_id, period_key = team.kind, team.settings, team.team_id, team.period_key
        snapshot = team.snapshot()
        markdown = artifact.read_text(encoding="utf-8")
        pdf = kind.document(snapshot, markdown, settings)
        name = kind.document_name(snapshot)
        where = location(settings.storage, artifact.parent, team_id, name)
        conn_id = settings.storage_conn_id
        beside = recorded(artifact.parent / name)
        if settings.storage is None and beside != str(artifact.parent / name):
            # The team's folder is on the run-file store: the PDF goes there, under a name every
            # host shares (the ledger's target), not into this try's scratch copy.
            where, conn_id = Location(beside), run_files_conn_id()
        force = bool(context["params"].get("force_redeliver", False))

        def store() -> dict[str, Any]:
            stored = store_once(where, pdf, conn_id=conn_id, replace=force)
            return {**stored, "markdown_sha256": validated["sha256"]}

        try:
            outcome = deliver(
                ledger=ledger_for(self.spec.ledger_conn_id, job=self.spec.dag_id),
                job=team.ledger_job(),
                logical_date=period_key,
                run_id=context["run_id"],
                channel=CHANNEL,
                target=where.uri,
                artifact=artifact,
                force=force,
                send=store,
            )
        except ReportConflict as exc:
            raise ReportNotStored(f"{team_id} {period_key}: {exc}") from None
        self.log.info(outcome.message)
        receipt = outcome.receipt or {}
        if receipt.get("markdown_sha256") != validated["sha256"]:
            raise ReportNotStored(
                f"{team_id} {period_key}: {where.uri} was stored from an earlier report.md than this run's; "
                "trigger with force_redeliver=true to store and send this one"
            )
        path = artifact.parent / MESSAGE_FILE
        write_atomically(path, message(markdown, where.uri))
        return {**validated, "artifact": recorded(path), "sha256": sha256_file(path), "report": receipt}
