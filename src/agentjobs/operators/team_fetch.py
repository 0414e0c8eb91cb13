"""TeamFetchOperator: which teams this run serves, and each one's snapshot of the business database.

The kind decides who is due at the run's logical date (e.g. weekly insights: the teams whose
local time is Sunday 09:00). A rerun reuses the snapshots already written (so a clear or a
backfill judges exactly the same rows) unless triggered with the `refetch` Param; the
`teams` Param narrows the run to the team ids it lists.

A kind that serves members (`due_members`, e.g. overdue_reminders) serves a team when one of
its members is due, and its snapshot holds only those members. Two runs of one local day
(members in two time zones) share the team's folder: a snapshot of another hour is read
again, never reused.

A kind whose member previews go out on each member's clock (capabilities.MembersOnOwnClock, e.g.
weekly_insights) serves a team also at a run where only a member's preview is due, when the
spec sends previews; its snapshot is the team's, with every member, the same at every such run.

A run that serves nobody (most runs of an hourly or five-minute fan-out) ends here, as Airflow's
ShortCircuitOperator ends a run: fetch succeeds and every later task, the run's alert too, is
skipped, so the run's history shows green fetch then skipped tasks for such a run, and the
team tasks only where a team was served (docs/business.md: "Runs that served nobody").
"""

from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path
from typing import Any

from airflow.sdk import SkipMixin

# Modules only a running task needs are imported in the functions that use them: every DAG
# parse imports this module (bench/dag_parse.py).
from agentjobs.jobs.inputs import RowContractError, team_queries
from agentjobs.jobs.kinds.base import PerMemberKind, TeamSnapshot
from agentjobs.jobs.kinds.capabilities import MembersOnOwnClock
from agentjobs.jobs.spec import JobSpec
from agentjobs.jobs.writes import SpecWrites
from agentjobs.operators.base_init import init_base
from agentjobs.operators.job_task import JobTaskOperator
from agentjobs.operators.team_task import job_kind, sql_conn_id


class TeamFetchOperator(JobTaskOperator, SkipMixin):
    ui_color = "#eef7ee"
    # Serialized as a task that can skip its downstream: a later clear of one skipped task of a
    # run that served nobody keeps it skipped (Airflow's NotPreviouslySkippedDep). Without it the
    # scheduler tries to expand the team group over a list the fetch never pushed and marks it
    # upstream_failed (tests/scheduler/test_quiet_runs.py).
    inherits_from_skipmixin = True

    def __init__(self, *, spec: JobSpec, **kwargs: Any) -> None:
        init_base(self, **kwargs)
        self.spec = spec
        self.conn_id = sql_conn_id(spec)

    def run_folders(self, context: Any) -> list[Path]:
        return []  # the folders of the teams it serves, each pulled once it knows them (`run`)

    def run(self, context: Any) -> list[Any]:
        # Run-time only: the contract check and the SQL reader import sqlglot (~100 ms), which a
        # DAG parse must not pay (bench/dag_parse.py).
        from agentjobs.atomic_file import write_atomically
        from agentjobs.hooks.ledger import run_log
        from agentjobs.jobs.input_check import (
            check_inputs,
            check_writes,
            kind_pairs,
            raise_on_mismatch,
            source_pairs,
        )
        from agentjobs.jobs.kinds.snapshots import team_snapshot
        from agentjobs.jobs.own_tables import ensure_own_tables
        from agentjobs.jobs.team_run import (
            CHUNK_CONCURRENCY_KEY,
            check_team_id,
            chunks,
            contract_error_path,
            ledger_job,
            snapshot_path,
            team_dir,
        )
        from agentjobs.operators.artifacts import run_instant
        from agentjobs.operators.run_files import pull_folder
        from agentjobs.operators.team_claims import claim_snapshot, claims_kind
        from agentjobs.sources.sql import connection_engine, fetch_tables, fetch_teams

        kind, settings = job_kind(self.spec)
        assert self.spec.sources.sql is not None  # sql_conn_id refused a spec without one
        limits = self.spec.sources.sql.limits()  # the spec's row cap and statement timeout
        when = run_instant(context)
        wanted = [str(t) for t in context["params"].get("teams") or []]
        mapping = self.spec.sources.sql.inputs if self.spec.sources.sql else {}
        engine = connection_engine(self.conn_id)
        # The contracts first: a mapping that cannot fit fails the run before any team is read.
        raise_on_mismatch(check_inputs(engine, source_pairs(mapping), mapping, limits=limits))
        if self.spec.sources.sql.writes:  # where results go
            raise_on_mismatch(check_writes(engine, kind, self.spec.sources.sql.writes))
        # agentjobs' own tables (a ledger, the insight records): a database that refuses them
        # fails here, before a model call, not after a delivery.
        ensure_own_tables(engine, kind, SpecWrites.of(self.spec.sources.sql))
        all_teams = fetch_teams(self.conn_id, team_queries(mapping), limits)
        if all_teams:
            first, members = all_teams[0]
            pairs = kind_pairs(kind, settings, first, members, when, mapping)
            raise_on_mismatch(check_inputs(engine, pairs, mapping, limits=limits))
        teams = [pair for pair in all_teams if not wanted or pair[0].id in wanted]
        missing = sorted(set(wanted) - {team.id for team, _ in teams})
        if missing:
            raise ValueError(f"no team {', '.join(missing)} in the teams table of {self.conn_id!r}")
        served: list[dict[str, str]] = []
        previews = bool(self.spec.team_delivery.smtp_conn_id and self.spec.team_delivery.member_preview)
        for team, members in self.due(kind, settings, teams, when, previews=previews):
            check_team_id(team.id)
            ledger_job(self.spec.dag_id, team.id)
            period = kind.period(team, when, settings)
            work_dir = team_dir(self.spec.dag_id, team.id, period.key)
            pull_folder(work_dir)  # with a run-file store: the snapshot an earlier run left there
            path = snapshot_path(work_dir)
            if (
                path.exists()
                and not context["params"].get("refetch", False)
                and same_period(path, period.start)
            ):
                self.log.info("%s: reusing %s (trigger with refetch=true to read again)", team.id, path)
            else:
                broken = contract_error_path(work_dir)
                broken.unlink(missing_ok=True)
                try:
                    snapshot = team_snapshot(
                        kind,
                        settings,
                        team,
                        members,
                        when,
                        lambda q: fetch_tables(self.conn_id, q, limits),
                        mapping,
                    )
                except RowContractError as exc:
                    # This team alone fails: its mapped tasks find the reason instead of a snapshot.
                    self.log.error("%s: %s", team.id, exc)
                    path.unlink(missing_ok=True)
                    broken.parent.mkdir(parents=True, exist_ok=True)
                    write_atomically(broken, str(exc))
                    served.append({"team": team.id, "period": period.key})
                    continue
                rows = {name: len(rows) for name, rows in snapshot.tables.items()}
                self.log.info("%s: %s .. %s: %s", team.id, period.start, period.end, rows)
                if claims_kind(kind):  # batch_notifications: the window's claimed events, or no one
                    claimed = claim_snapshot(kind, settings, snapshot, self.spec, context["run_id"], self.log)
                    if claimed is None:
                        continue
                    snapshot = claimed
                path.parent.mkdir(parents=True, exist_ok=True)
                write_atomically(path, snapshot.model_dump_json(indent=1))
            served.append({"team": team.id, "period": period.key})
        if not served:
            # Most runs of an hourly fan-out serve nobody; that is a good run, not a stale job.
            self.log.info("No team is due at %s (of %d)", when.isoformat(), len(teams))
            run_log(self.spec.ledger_conn_id).record(self.spec.dag_id, context["run_id"], "success")
            self.skip_the_rest(context)
        else:
            self.log.info("Serving %s", ", ".join(f"{s['team']} ({s['period']})" for s in served))
        if len(served) > self.spec.max_teams_per_run:
            self.log.warning(
                "Serving %d teams, more than the spec's max_teams_per_run (%d) the run's dagrun_timeout "
                "is sized for: a slow run may be stopped before every team is done; raise max_teams_per_run",
                len(served),
                self.spec.max_teams_per_run,
            )
        # Chunked (fan_out.chunk_size > 1, or fan_out.chunks) the mapped tasks each get a chunk
        # (a list) of team runs; with `chunks` its size is worked out from the teams due now,
        # and from the connection's rate limit (FanOut.layout_for).
        fan_out = self.spec.fan_out
        if not fan_out.chunked:
            return chunks(served, 1, chunked=False)
        rpm = self._requests_per_minute()
        layout = fan_out.layout_for(len(served), rpm)
        if layout.merged_from is not None:
            self.log.info(
                "%d chunks of %d teams, %d calls at once each, not the %d chunks asked: the "
                "connection's limit of %s requests/min keeps no more busy (fan_out.chunks)",
                math.ceil(len(served) / layout.size),
                layout.size,
                layout.concurrency,
                layout.merged_from,
                f"{rpm:g}",
            )
        context["ti"].xcom_push(key=CHUNK_CONCURRENCY_KEY, value=layout.concurrency)
        return chunks(served, layout.size, chunked=True)

    def _requests_per_minute(self) -> float | None:
        """The LLM connection's rate limiter's requests a minute (None: it sets none)."""
        if self.spec.fan_out.chunks is None:
            return None  # only `chunks` is sized per run
        from agentjobs.hooks.llm import LLMHook

        rate_limit = LLMHook(self.spec.llm_conn_id).settings.rate_limit
        return rate_limit.limits.requests_per_minute if rate_limit is not None else None

    def skip_the_rest(self, context: Any) -> None:
        """Skip every later task of this run, the alert too, and end this task green (raises
        DownstreamTasksSkipped, so nothing is returned). ShortCircuitOperator's way, trigger rules
        ignored: the alert's `all_done` would otherwise still run it in every idle run. Without
        downstream tasks (the operator on its own) it does nothing."""
        rest = [task for task in self.get_flat_relatives(upstream=False) if not task.is_teardown]
        if rest:
            self.log.info("Served nobody: skipping the run's %d other tasks", len(rest))
            self.skip(ti=context["ti"], tasks=rest)

    @staticmethod
    def due(
        kind: Any, settings: Any, teams: list[tuple[Any, list[Any]]], when: Any, *, previews: bool = False
    ) -> list[Any]:
        from agentjobs.jobs.kinds.snapshots import due_teams

        if previews and isinstance(kind, MembersOnOwnClock):
            return sorted(
                (
                    (team, members)
                    for team, members in teams
                    if kind.due(team, when, settings) or kind.members_due(team, members, when, settings)
                ),
                key=lambda p: p[0].id,
            )
        if not isinstance(kind, PerMemberKind):
            return due_teams(kind, settings, teams, when)
        pairs = [(team, kind.due_members(team, members, when, settings)) for team, members in teams]
        return sorted((pair for pair in pairs if pair[1]), key=lambda p: p[0].id)


def same_period(path: Path, start: datetime) -> bool:
    """Whether the snapshot at `path` was fetched for the period starting at `start`."""
    try:
        return TeamSnapshot.model_validate_json(path.read_text(encoding="utf-8")).period.start == start
    except ValueError:
        return False  # unreadable: fetch again
