"""`agentjobs digest`: the daily digest once, of the sources given or of the demo sources.

It runs the same DAG the scheduler runs (built from include/jobs/daily-digest.yaml), with
`dag.test()` on a SQLite metadata DB under the output folder, so nothing needs a server.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from agentjobs.cli.dag_run import prepared_dag
from agentjobs.cli.endpoint import Endpoint, model_endpoint
from agentjobs.cli.project import demo_repository, prepare_environment, project_dir


def build_spec(args: argparse.Namespace, project: Path, endpoint: Endpoint, day: date, tz: str) -> Any:
    from agentjobs.jobs.spec import load_spec
    from agentjobs.operators.factory import resolve_paths
    from agentjobs.sources.demo_feed import render_demo_feed

    spec = resolve_paths(load_spec(project / "include" / "jobs" / "daily-digest.yaml"), project)
    sources: dict[str, Any] = {}
    if args.repo:
        sources["git"] = {"repos": [str(Path(r).resolve()) for r in args.repo]}
    if args.github:
        sources["github"] = {"repos": args.github}
    if args.feed:
        sources["rss"] = {"feeds": [f if "://" in f else str(Path(f).resolve()) for f in args.feed]}
    if not names_a_source(args):
        # The demo: this project's own history (or the repository here) and the bundled feed,
        # dated to the day asked for.
        feed = args.out.resolve() / f"demo-feed-{day.isoformat()}.xml"
        feed.write_text(render_demo_feed(day), encoding="utf-8")
        sources = {"rss": {"feeds": [str(feed)]}}
        repository = demo_repository(project)
        if repository is None:
            print("agentjobs: no --repo given and no git repository here: digesting the demo feed only")
        else:
            sources["git"] = {"repos": [str(repository)]}
    if not endpoint.priced and args.max_cost_usd is None and spec.caps.max_cost_usd is not None:
        print(
            "agentjobs: no prices known for this endpoint, so no cost cap (set AGENTJOBS_PRICES to enable it)"
        )
        spec = spec.model_copy(update={"caps": spec.caps.overridden({"max_cost_usd": None})})
    given = {
        "max_iterations": args.max_iterations,
        "max_total_tokens": args.max_tokens,
        "max_cost_usd": args.max_cost_usd,
    }
    caps = spec.caps.overridden({k: v for k, v in given.items() if v is not None})
    data = spec.model_dump()
    data.update(
        sources=sources,
        caps=caps.model_dump(),
        channels=[],  # the command shows the digest; delivery is the scheduled job's business
        alert=None,
        retries=0,  # one try, shown at once: nobody waits out a retry delay at a terminal
        timezone=tz,
        llm_conn_id=endpoint.conn_id,
        model=None,
        # The local model cannot call tools: it runs the skill's structured mode.
        mode="structured" if endpoint.local else (args.mode or spec.mode),
        ledger_conn_id=None,
        # Airflow runs no task for a logical date before the DAG's start_date: the one-off run
        # digests the day asked for whatever the spec says (the scheduled DAG keeps its own).
        start_date=min(spec.start_date, day),
    )
    return type(spec).model_validate(data)


def names_a_source(args: argparse.Namespace) -> bool:
    return bool(args.repo or args.github or args.feed)


def default_day(args: argparse.Namespace, project: Path, tz: str) -> date:
    """Yesterday in `tz`; for the demo sources, when the demo repository has no commit that day
    (a fresh clone's history may end days ago), its latest day with commits, said on one line:
    the demo is there to show what the job does, and a digest of nothing shows little."""
    yesterday = datetime.now(ZoneInfo(tz)).date() - timedelta(days=1)
    if names_a_source(args):
        return yesterday
    repository = demo_repository(project)
    if repository is None:
        return yesterday  # the demo feed alone, re-dated to any day
    from agentjobs.sources.local_git import latest_commit_before

    today = datetime.combine(yesterday + timedelta(days=1), datetime.min.time(), ZoneInfo(tz))
    latest = latest_commit_before(repository, today)
    if latest is None:
        return yesterday
    active = latest.astimezone(ZoneInfo(tz)).date()
    if active < yesterday:
        print(
            f"agentjobs: no commits on {yesterday} in {repository}: digesting {active}, "
            "its latest day with commits (--date picks the day)"
        )
        return active
    return yesterday


def run_digest(args: argparse.Namespace) -> int:
    project = project_dir()
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    prepare_environment(out, project, args.verbose)

    from agentjobs.jobs.spec import load_spec

    tz = args.timezone or load_spec(project / "include" / "jobs" / "daily-digest.yaml").timezone
    day = args.date or default_day(args, project, tz)
    with model_endpoint() as endpoint:
        spec = build_spec(args, project, endpoint, day, tz)
        print(f"agentjobs: digesting {day} ({', '.join(spec.sources.names())}) with {endpoint.described}")
        return _run(spec, day, tz, out)


def _run(spec: Any, day: date, tz: str, out: Path) -> int:
    from agentjobs.dag_test import run_dag_once

    dag, failures = prepared_dag(spec)
    logical = datetime.combine(day + timedelta(days=1), datetime.min.time(), ZoneInfo(tz)) + timedelta(
        hours=3
    )
    # refetch: the command names its sources each time, so it reads them now. The scheduled
    # DAG's rerun reuses the day's snapshot; here that digested the first run's sources after the
    # user had fixed a feed or named another one.
    run = run_dag_once(dag, logical_date=logical, run_conf={"refetch": True})
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    from agentjobs.agent.scrub import scrub
    from agentjobs.jobs.period import job_dir, period_of_day

    work_dir = job_dir(spec.dag_id, period_of_day(day, tz, spec.period_days))
    if any(state != "success" for state in states.values()):
        reason = failures[0] if failures else f"tasks did not succeed: {states}"
        print(f"agentjobs: digest failed: {scrub(' '.join(reason.split()))[:500]}", file=sys.stderr)
        print(f"agentjobs: transcript and snapshot in {work_dir}", file=sys.stderr)
        return 1
    digest = work_dir / "digest.md"
    if not digest.is_file():
        print(f"agentjobs: digest failed: the run ended without writing {digest}", file=sys.stderr)
        return 1
    print(f"agentjobs: digest written to {digest}\n")
    print(digest.read_text(encoding="utf-8"))
    return 0
