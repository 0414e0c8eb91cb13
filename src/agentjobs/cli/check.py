"""`agentjobs check JOB`: does the business database fit the job's inputs? Run it before enabling a job.

JOB is a shipped job's dag_id (include/jobs/) or the path of a spec file. Each input the job
reads (the teams and users, then the kind's own, with the first team's binds) runs once on a
small sample through the spec's mapping, and its columns and types are compared with the
input's contract (jobs/inputs.py); each mapped write target's table must have the columns the
mapping names (jobs/writes.py): one line per input and target, exit 0 when all match, 1 otherwise;
then the teams the spec's schedule never serves in five weeks (jobs/served.py), exit 1 if any.
No model is called and none of the user's rows is written (agentjobs' own ledger table, in
its own schema, is created when a mapped write target keeps one: the mapped reads may name it).
The database is the job's `sql` connection when one is defined, else, for the shipped
`agentjobs_business`, the sample database in the output folder (as `agentjobs run`); a
connection of the spec's own that is not defined is an error, never the sample in its place.
"""

from __future__ import annotations

import argparse
import os
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any

from agentjobs.agent.skill_names import SKILLS_DIR_ENV
from agentjobs.cli.project import prepare_environment, project_dir
from agentjobs.cli.run import business_db, find_spec, require_skills


def load_job(project: Path, job: str) -> tuple[Any, Path | None]:
    """The spec of `job` (a dag_id, or a spec file's path) and its file when given as one."""
    path = Path(job)
    if path.suffix in (".yaml", ".yml") and path.is_file():
        from agentjobs.jobs.spec import JobSpecError, load_spec

        try:
            return load_spec(path), path.resolve()
        except JobSpecError as exc:
            raise SystemExit(f"agentjobs: {exc}") from None
    from agentjobs.jobs.spec import load_folder

    spec = find_spec(project, job, takes_paths=True)
    loaded, _ = load_folder(project / "include" / "jobs")
    return spec, next((path for path, s in loaded.items() if s.dag_id == spec.dag_id), None)


def skills_dir_of(project: Path, spec_path: Path | None, configured: str | None) -> Path:
    """Where the job's agent tasks find its skills: `configured` ($AGENTJOBS_SKILLS_DIR) when set,
    else the skills folder beside the spec's jobs folder, as the jobs DAG file reads them
    (include/skills beside include/jobs), else the project's."""
    if configured:
        return Path(configured)
    beside = spec_path.parent.parent / "skills" if spec_path is not None else None
    return beside if beside is not None and beside.is_dir() else project / "include" / "skills"


def check_job(args: argparse.Namespace) -> int:
    project = project_dir()
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    configured_skills = os.environ.get(SKILLS_DIR_ENV)  # before prepare_environment's default
    prepare_environment(out, project, False)
    spec, spec_path = load_job(project, args.job)
    skills_dir = skills_dir_of(project, spec_path, configured_skills)
    require_skills(spec, skills_dir, str(spec_path or f"the spec of {spec.dag_id!r}"))
    if not spec.fans_out or spec.sources.sql is None:
        raise SystemExit(f"agentjobs: {spec.dag_id} reads no business database; there is nothing to check")
    from agentjobs.jobs.input_check import check_inputs, check_writes, kind_pairs, source_pairs
    from agentjobs.jobs.kinds.registry import fan_out_kind
    from agentjobs.sources.sql import DEFAULT_CONN_ID, connection_engine, read_teams

    conn_id = spec.sources.sql.conn_id
    if conn_id == DEFAULT_CONN_ID or os.environ.get(f"AIRFLOW_CONN_{conn_id.upper()}"):
        business_db(out, conn_id)
    # Else the spec names a connection of its own that is not defined: checking the sample
    # database in its place would say "every input matches" of a database the user never meant;
    # connection_engine fails saying how to define it.
    mapping = spec.sources.sql.inputs
    limits = spec.sources.sql.limits()  # the row cap and statement timeout a run reads with
    engine = connection_engine(conn_id)
    verdicts = check_inputs(engine, source_pairs(mapping), mapping, spec_path, limits)
    kind = fan_out_kind(spec.kind)
    verdicts += check_writes(engine, kind, spec.sources.sql.writes, spec_path)
    if all(not v.problems for v in verdicts):  # agentjobs' own ledger, which a mapped query may read
        from agentjobs.jobs.own_tables import ensure_own_tables
        from agentjobs.jobs.writes import SpecWrites

        ensure_own_tables(engine, kind, SpecWrites.of(spec.sources.sql))
    teams: list[Any] = []
    if all(not v.problems for v in verdicts):
        from agentjobs.jobs.inputs import team_queries

        teams = read_teams(engine, team_queries(mapping), limits)
        if not teams:
            print("agentjobs: the teams input has no rows: the kind's inputs need a team's binds")
            return 1
        day = args.date or datetime.now(UTC).date()
        when = datetime.combine(day, time(12), tzinfo=UTC)
        team, members = teams[0]
        pairs = kind_pairs(kind, spec.kind_settings(), team, members, when, mapping)
        verdicts += check_inputs(engine, pairs, mapping, spec_path, limits)
    for verdict in verdicts:
        print(verdict.line())
    failed = sum(1 for v in verdicts if v.problems)
    print(
        f"agentjobs: {spec.dag_id}: "
        + (f"{failed} input(s) do not match" if failed else "every input matches")
    )
    unserved = _unserved(spec, kind, teams) if not failed else []
    return 1 if failed or unserved else 0


def _unserved(spec: Any, kind: Any, teams: list[Any]) -> list[str]:
    """Print and return the teams the spec's schedule never serves (no run on their own hour)."""
    from agentjobs.jobs.kinds.capabilities import PicksServingInstant
    from agentjobs.jobs.served import never_served
    from agentjobs.jobs.spec import CRON_PRESETS

    if isinstance(kind, PicksServingInstant):  # the kind picks its own instant: always one
        return []
    cron = CRON_PRESETS.get(spec.schedule, spec.schedule)
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    found = never_served(kind, spec.kind_settings(), [t for t, _ in teams], cron, spec.timezone, start)
    if found:
        print(
            f"agentjobs: {spec.dag_id}: its schedule {spec.schedule!r} ({spec.timezone}) has no run in "
            f"five weeks that serves {', '.join(found)}: each team is served only at its own hour; "
            "make `schedule` run then (e.g. hourly, as the shipped spec does)"
        )
    return found
