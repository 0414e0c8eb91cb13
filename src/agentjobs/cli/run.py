"""`agentjobs run JOB`: run one shipped job once on the embedded default and print its artifact(s).

For the digest it is `agentjobs digest`. For the business-database kinds it reads the
job's `sql` connection when one is defined, else the sample database in the output folder
(generated with seed 7 when none is there; one that is there is read, never replaced); for
each team it runs the DAG at the hour that team is served for `--date` (e.g. weekly insights:
the Sunday 09:00, team time, after the week ending on that Saturday), with delivery
off: the command shows, the scheduled job delivers.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from agentjobs.cli.args import parse_args
from agentjobs.cli.dag_run import prepared_dag
from agentjobs.cli.digest import run_digest
from agentjobs.cli.endpoint import model_endpoint
from agentjobs.cli.project import prepare_environment, project_dir

SAMPLE_DB_ENV = "AGENTJOBS_BUSINESS_DB"


def run_job(args: argparse.Namespace) -> int:
    """`agentjobs run JOB`: the digest's own command for digest kinds, else a fan-out run per team."""
    project = project_dir()
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    prepare_environment(out, project, args.verbose)
    spec = find_spec(project, args.job)
    from agentjobs.agent.skills import default_skills_dir

    # Before the sample database is generated and the model started: the run would fail there.
    require_skills(spec, default_skills_dir(), f"the spec of {spec.dag_id!r}")
    if not spec.fans_out:
        if spec.dag_id != "daily_digest":
            raise SystemExit(
                f"agentjobs: run {spec.dag_id} is not supported yet; `agentjobs digest` runs the digest"
            )
        digest_args = parse_args(["digest", "--out", str(out)])
        digest_args.date, digest_args.mode, digest_args.verbose = args.date, args.mode, args.verbose
        for name in ("max_iterations", "max_tokens", "max_cost_usd"):
            setattr(digest_args, name, getattr(args, name))
        return run_digest(digest_args)
    return run_fan_out(args, project, out)


SPEC_SUFFIXES = (".yaml", ".yml")


def find_spec(project: Path, job: str, takes_paths: bool = False) -> Any:
    """The spec of the project's job `job` (a dag_id); SystemExit saying why there is none.
    `takes_paths`: the command also takes a spec file's path (check), so a path is named as one."""
    from agentjobs.jobs.spec import load_folder

    loaded, broken = load_folder(project / "include" / "jobs")
    by_id = {spec.dag_id: spec for spec in loaded.values()}
    if job not in by_id:
        if any(b.dag_id == job for b in broken):
            raise SystemExit(
                f"agentjobs: the spec of {job!r} is broken: "
                + next(b.error for b in broken if b.dag_id == job)
            )
        shipped = ", ".join(sorted(by_id))
        if looks_like_path(job):
            raise SystemExit(not_a_job(job, takes_paths, shipped, project / "include" / "jobs"))
        raise SystemExit(f"agentjobs: no job {job!r}; shipped jobs: {shipped}")
    return by_id[job]


def looks_like_path(job: str) -> bool:
    """Whether `job` is written as a file's path rather than a dag_id (which has no '/')."""
    return Path(job).suffix in SPEC_SUFFIXES or "/" in job or os.sep in job or job.startswith("~")


def not_a_job(given: str, takes_paths: bool, shipped: str, jobs: Path) -> str:
    """Why a path given for JOB names no job: "no job 'x.yaml'" read as if the spec were known
    but not shipped, when the file is not there at all (a typo, or another folder)."""
    ids = f"a shipped job's dag_id ({shipped})"
    path = Path(given).expanduser()
    if not path.exists():
        either = "the path of a spec file or " if takes_paths else ""
        return (
            f"agentjobs: the spec file {given!r} does not exist (looked for "
            f"{os.path.abspath(path)}); "
            f"check the path, or give {either}{ids}"
        )
    if takes_paths:  # there, but not a file the command reads as a spec (a folder, a .txt)
        return f"agentjobs: {given!r} is not a spec file (a *.yaml or *.yml file); give one, or {ids}"
    return (
        f"agentjobs: {given!r} is a path; this command takes {ids}, or the dag_id of a spec you put in {jobs}"
    )


def require_skills(spec: Any, skills_dir: Path, where: str) -> None:
    """SystemExit naming the spec's field when a skill its agent tasks load does not load from
    `skills_dir`: the job would fail at its first agent task, after the fetch (jobs/spec_skills.py)."""
    from agentjobs.jobs.spec_skills import skill_problems

    problems = skill_problems(spec, skills_dir)
    if problems:
        raise SystemExit(f"agentjobs: {where}: invalid job spec: " + "; ".join(problems))


def business_db(out: Path, conn_id: str) -> tuple[date, date] | None:
    """Point `conn_id` at the sample database unless it is defined; the data's first and last day,
    if sampled.

    A database already at the path is read as it is (whatever its seed), never regenerated:
    `agentjobs business-db --force` is the one way to replace it."""
    variable = f"AIRFLOW_CONN_{conn_id.upper()}"
    if os.environ.get(variable):
        print(f"agentjobs: reading the business database of the {conn_id} connection")
        return None
    from agentjobs.business.generate import UnusableSampleDb, ensure_sample_db

    configured = os.environ.get(SAMPLE_DB_ENV)
    path = Path(configured or out / "business.db").resolve()
    if path.exists():
        print(f"agentjobs: reading the business database {path}")
    else:
        print(f"agentjobs: generating the sample business database {path} (seed 7) …")
    try:
        truth = ensure_sample_db(path)
    except UnusableSampleDb as exc:
        raise SystemExit(
            f"agentjobs: {exc}, so it is not read and kept as it is; "
            f"`agentjobs business-db --force --out {path}` replaces it with the sample, "
            f"or give this command another {SAMPLE_DB_ENV if configured else '--out'}"
        ) from None
    if truth.seed != 7:
        print(f"agentjobs: it is the sample of seed {truth.seed} (its truth file says so)")
    os.environ[variable] = f"sqlite:///{path}"
    return truth.first_day, truth.last_day


def outside_the_data(day: date, span: tuple[date, date] | None) -> str | None:
    """A note when `day` lies outside the sample's days: its run finds no rows and says "no
    transactions", which reads like an empty week rather than a day the data does not hold."""
    if span is None or span[0] <= day <= span[1]:
        return None
    return (
        f"agentjobs: note: the sample business database holds {span[0]} to {span[1]}; "
        f"{day} is outside it, so this run finds no data (pick a --date in that range)"
    )


def serving_instant(kind: Any, settings: Any, team: Any, day: date) -> datetime | None:
    """The first hourly instant (UTC) at which the job serves `team` for the period ending `day`
    (or the instant the kind itself picks, e.g. batch_notifications: the window ending the day)."""
    from agentjobs.jobs.kinds.capabilities import PicksServingInstant

    if isinstance(kind, PicksServingInstant):
        return kind.serving_instant(team, day, settings)
    start = datetime.combine(day, time(0), tzinfo=UTC) - timedelta(days=1)
    for hour in range(24 * 10):
        when = start + timedelta(hours=hour)
        if kind.due(team, when, settings) and kind.period(team, when, settings).key == day.isoformat():
            return when
    return None


def _nearest_covered(kind: Any, settings: Any, team: Any, day: date) -> str:
    """ ", e.g. 2026-11-28 (the last day before it that a run covers)" when one is within a month:
    a weekly or monthly kind's period ends on one weekday or on the month's last day only."""
    for back in range(1, 32):
        earlier = day - timedelta(days=back)
        if serving_instant(kind, settings, team, earlier) is not None:
            return f", e.g. {earlier} (the last day before it that a run covers)"
    return ""


def run_fan_out(args: argparse.Namespace, project: Path, out: Path) -> int:
    from agentjobs.jobs.kinds.registry import fan_out_kind

    spec = find_spec(project, args.job)
    assert spec.sources.sql is not None  # a fan-out kind's spec has one (spec.check_kind)
    span = business_db(out, spec.sources.sql.conn_id)
    from agentjobs.jobs.inputs import team_queries
    from agentjobs.sources.sql import fetch_teams

    kind, settings = fan_out_kind(spec.kind), spec.kind_settings()
    sql = spec.sources.sql
    # The spec's own teams/users mapping and read limits, as the fetch task reads them.
    teams = [team for team, _ in fetch_teams(sql.conn_id, team_queries(sql.inputs), sql.limits())]
    if args.team:
        unknown = sorted(set(args.team) - {t.id for t in teams})
        if unknown:
            raise SystemExit(
                f"agentjobs: no team {', '.join(unknown)}; teams: {', '.join(t.id for t in teams)}"
            )
        teams = [t for t in teams if t.id in args.team]
    day = args.date or (span[1] if span else None) or (datetime.now(UTC).date() - timedelta(days=1))
    runs: dict[datetime, list[str]] = defaultdict(list)
    keys: dict[str, str] = {}  # team id -> its period's key (the run folder)
    for team in teams:
        when = serving_instant(kind, settings, team, day)
        if when is None:
            raise SystemExit(
                f"agentjobs: no run of {spec.dag_id} covers {day} for {team.id}; pick another --date"
                + _nearest_covered(kind, settings, team, day)
            )
        runs[when].append(team.id)
        keys[team.id] = kind.period(team, when, settings).key
    from agentjobs.cli.sources import sample_sources

    with model_endpoint() as endpoint, sample_sources(spec) as spec:
        spec = cli_spec(spec, args, endpoint, first_run=min(runs))
        print(f"agentjobs: {spec.dag_id} for {day}, {len(teams)} team(s), with {endpoint.described}")
        status = _run_all(spec, kind, keys, runs)
    note = outside_the_data(day, span)
    if note:  # last, under the artifacts that say there was nothing
        print(note)
    return status


def cli_spec(spec: Any, args: argparse.Namespace, endpoint: Any, first_run: datetime) -> Any:
    """`spec` as the command runs it once, its first run at `first_run`."""
    data = spec.model_dump()
    caps = data["caps"]
    for name, value in (
        ("max_iterations", args.max_iterations),
        ("max_total_tokens", args.max_tokens),
        ("max_cost_usd", args.max_cost_usd),
    ):
        if value is not None:
            caps[name] = value
    if not endpoint.priced and args.max_cost_usd is None:
        caps["max_cost_usd"] = None
    data.update(
        caps=caps,
        alert=None,
        deadline_minutes=None,
        retries=0,  # one try, shown at once: nobody waits out a retry delay at a terminal
        llm_conn_id=endpoint.conn_id,
        model=None,
        # A one-off run at a terminal waits for no batch (up to a day): its teams are asked online.
        mode="structured"
        if endpoint.local
        else (args.mode or {"batch": "structured"}.get(spec.mode or "", spec.mode)),
        ledger_conn_id=None,
        # The command shows the artifacts; delivering them is the scheduled job's business.
        team_delivery={"slack_conn_id": None, "smtp_conn_id": None, "member_preview": False},
        # Airflow runs no task for a logical date before the DAG's start_date: the one-off run
        # serves the day asked for whatever the spec says (the scheduled DAG keeps its own).
        start_date=min(spec.start_date, first_run.astimezone(ZoneInfo(spec.timezone)).date()),
    )
    return type(spec).model_validate(data)


def _run_all(spec: Any, kind: Any, keys: dict[str, str], runs: dict[datetime, list[str]]) -> int:
    from agentjobs.agent.scrub import scrub
    from agentjobs.dag_test import run_dag_once
    from agentjobs.jobs.kinds.capabilities import Documents
    from agentjobs.jobs.team_run import team_dir
    from agentjobs.operators.team_publish import MESSAGE_FILE

    dag, failures = prepared_dag(spec)
    status = 0
    for when, team_ids in sorted(runs.items()):
        run = run_dag_once(dag, logical_date=when, run_conf={"teams": team_ids})
        with_state = {(ti.task_id, ti.map_index): ti.state for ti in run.get_task_instances()}
        # None: a team task never mapped (the fetch served nobody, e.g. no new events): not a failure.
        if any(state not in ("success", None) for state in with_state.values()):
            reason = failures[-1] if failures else f"tasks did not succeed: {with_state}"
            print(
                f"agentjobs: {', '.join(team_ids)} failed: {scrub(' '.join(reason.split()))[:500]}",
                file=sys.stderr,
            )
            status = 1
            continue
        # A kind with a document shows the team's message: the artifact and where its PDF went.
        shown = MESSAGE_FILE if isinstance(kind, Documents) else kind.artifact_file
        for team_id in team_ids:
            artifact = team_dir(spec.dag_id, team_id, keys[team_id]) / shown
            if not artifact.is_file():  # not served (e.g. no new events): nothing was written
                print(f"agentjobs: {team_id}: nothing to report for {keys[team_id]}\n")
                continue
            print(f"agentjobs: {team_id}: {artifact}\n")
            print(artifact.read_text(encoding="utf-8"))
    return status
