"""The `agentjobs` command: run a job once on the embedded default.

    agentjobs digest [--repo PATH]... [--github OWNER/NAME]... [--feed URL|PATH]...
                     [--date YYYY-MM-DD] [--out DIR] [--max-iterations N] [--max-tokens N]
                     [--max-cost-usd X]
    agentjobs run JOB [--date YYYY-MM-DD] [--team ID]... [--out DIR] [caps as above]
    agentjobs business-db [--out PATH] [--seed N] [--postgres-uri URI] [--force]
    agentjobs init [DAGS_FOLDER] [--force]
    agentjobs local-model [--host HOST] [--port PORT] [--ctx-size N]

It runs the same DAG the scheduler runs (built from include/jobs/daily-digest.yaml), with
`dag.test()` on a SQLite metadata DB under the output folder, so nothing needs a server.
The model is OPENAI_BASE_URL / OPENAI_API_KEY / AGENTJOBS_MODEL when set, else the
`agentjobs_llm_default` connection when one is defined, else the embedded local model.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from agentjobs.dag_test import NothingRan

CLI_CONN_ID = "agentjobs_llm_cli"
DEFAULT_CONN_ID = "agentjobs_llm_default"


def project_dir() -> Path:
    """The folder holding include/ (skills, jobs, demo data): $AGENTJOBS_PROJECT_DIR, the current
    folder or one above it, else what the package ships (its data, or the checkout of an editable
    install)."""
    configured = os.environ.get("AGENTJOBS_PROJECT_DIR")
    if configured:
        return Path(configured).resolve()
    for folder in [Path.cwd(), *Path.cwd().parents]:
        if (folder / "include" / "jobs" / "daily-digest.yaml").is_file():
            return folder
    from agentjobs.shipped import shipped_project

    try:
        return shipped_project()
    except RuntimeError as exc:
        raise SystemExit(f"{exc}; or run from the project folder or set AGENTJOBS_PROJECT_DIR") from None


def demo_repository(project: Path) -> Path | None:
    """The git repository the demo digest reads: this project's own history in a checkout, else
    the repository the command runs in, else none (an installed package has no history)."""
    import subprocess

    from agentjobs.shipped import is_checkout

    if is_checkout(project):
        return project
    found = subprocess.run(
        ["git", "rev-parse", "--show-toplevel"], capture_output=True, text=True, check=False
    )
    return Path(found.stdout.strip()) if found.returncode == 0 and found.stdout.strip() else None


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="agentjobs", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    digest = commands.add_parser("digest", help="run the daily digest once and show it")
    digest.add_argument("--repo", action="append", default=[], metavar="PATH", help="local git repository")
    digest.add_argument(
        "--github", action="append", default=[], metavar="OWNER/NAME", help="GitHub repository"
    )
    digest.add_argument("--feed", action="append", default=[], metavar="URL|PATH", help="RSS or Atom feed")
    digest.add_argument("--date", type=date.fromisoformat, help="the day to digest (default: yesterday)")
    digest.add_argument("--out", type=Path, default=Path("agentjobs-out"), help="output folder")
    digest.add_argument("--timezone", help="time zone of the day (default: the job's)")
    digest.add_argument("--max-iterations", type=int)
    digest.add_argument("--max-tokens", type=int, help="total token budget")
    digest.add_argument("--max-cost-usd", type=float)
    digest.add_argument("--mode", choices=["structured", "loop"], help="default: the job's mode")
    digest.add_argument("--verbose", action="store_true", help="show Airflow's own logs")
    run = commands.add_parser("run", help="run any shipped job once (include/jobs/*.yaml) and show it")
    run.add_argument("job", help="the job's dag_id, e.g. weekly_insights, anomaly_flags, daily_digest")
    run.add_argument(
        "--date", type=date.fromisoformat, help="the last day covered (default: the data's last)"
    )
    run.add_argument("--team", action="append", default=[], metavar="ID", help="only this team (repeatable)")
    run.add_argument("--out", type=Path, default=Path("agentjobs-out"), help="output folder")
    run.add_argument("--max-iterations", type=int)
    run.add_argument("--max-tokens", type=int, help="total token budget")
    run.add_argument("--max-cost-usd", type=float)
    run.add_argument("--mode", choices=["structured", "loop"], help="default: the job's mode")
    run.add_argument("--verbose", action="store_true", help="show Airflow's own logs")
    db = commands.add_parser("business-db", help="write the sample business database (and its truth.json)")
    db.add_argument("--out", type=Path, default=Path("agentjobs-out") / "business.db", help="SQLite file")
    db.add_argument("--seed", type=int, default=7)
    db.add_argument("--postgres-uri", help="also load it into this database, e.g. postgresql://user@host/db")
    db.add_argument("--force", action="store_true", help="replace the file (and its truth) if it exists")
    init = commands.add_parser(
        "init",
        help="write the DAG files and the shipped jobs and skills (to edit) into a DAGs folder",
        description="Write agentjobs_jobs.py, agentjobs_spec_errors.py and agentjobs-project/include/"
        "{jobs,skills,demo} into DAGS_FOLDER, where the DAG file finds them without any environment "
        "variable. Existing files are kept unless --force.",
    )
    init.add_argument(
        "dags_folder",
        nargs="?",
        type=Path,
        metavar="DAGS_FOLDER",
        help="default: Airflow's configured [core] dags_folder (airflow config get-value core dags_folder)",
    )
    init.add_argument("--force", action="store_true", help="overwrite files that exist")
    model = commands.add_parser(
        "local-model", help="serve the embedded model (OpenAI-compatible) in the foreground until stopped"
    )
    model.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0 in a container)")
    model.add_argument("--port", type=int, default=8080)
    model.add_argument("--ctx-size", type=int, default=8192, help="context window in tokens")
    return parser.parse_args(argv)


def prepare_environment(out: Path, project: Path, verbose: bool) -> None:
    """Airflow reads its configuration at import: everything is set before the first import."""
    home = out / ".airflow"
    (home / "dags").mkdir(parents=True, exist_ok=True)
    os.environ["AIRFLOW_HOME"] = str(home)
    os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(home / "dags")
    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{home / 'airflow.db'}"
    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "INFO" if verbose else "WARNING")
    os.environ["AGENTJOBS_ARTIFACT_BASE"] = str(out)
    os.environ.setdefault("AGENTJOBS_SKILLS_DIR", str(project / "include" / "skills"))


def endpoint_connection() -> dict[str, Any] | None:
    """The LLM connection from OPENAI_* variables, or None when they are not set."""
    base_url = os.environ.get("OPENAI_BASE_URL")
    if not base_url:
        return None
    model = os.environ.get("AGENTJOBS_MODEL")
    if not model:
        raise SystemExit(
            "agentjobs: OPENAI_BASE_URL is set but AGENTJOBS_MODEL is not; name the model to use"
        )
    extra: dict[str, Any] = {"model": model}
    if os.environ.get("AGENTJOBS_PRICES"):
        # USD per 1M tokens, e.g. {"*": {"input": 0.15, "output": 0.6}}: enables the cost cap.
        extra["prices"] = json.loads(os.environ["AGENTJOBS_PRICES"])
    return {
        "conn_type": "agentjobs_llm",
        "host": base_url,
        "password": os.environ.get("OPENAI_API_KEY", ""),
        "extra": extra,
    }


@dataclass(frozen=True)
class Endpoint:
    conn_id: str
    described: str
    local: bool  # the embedded model: structured mode only
    priced: bool  # a cost cap can be enforced


@contextlib.contextmanager
def model_endpoint() -> Iterator[Endpoint]:
    """The model to use; starts and stops the local model when it is the one used."""
    explicit = endpoint_connection()
    if explicit is not None:
        os.environ[f"AIRFLOW_CONN_{CLI_CONN_ID.upper()}"] = json.dumps(explicit)
        described = f"{explicit['extra']['model']} at {explicit['host']}"
        yield Endpoint(CLI_CONN_ID, described, local=False, priced="prices" in explicit["extra"])
        return
    defined = os.environ.get(f"AIRFLOW_CONN_{DEFAULT_CONN_ID.upper()}")
    if defined:
        priced = "prices" in defined  # the connection's own check still applies at run time
        yield Endpoint(DEFAULT_CONN_ID, f"the {DEFAULT_CONN_ID} connection", local=False, priced=priced)
        return
    from agentjobs.local_model import running_local_model

    print("agentjobs: starting the embedded local model (tiny: it shows the pipeline, not quality) …")
    with running_local_model() as local:
        conn = {
            "conn_type": "agentjobs_llm",
            "host": local.base_url,
            "password": "local",
            "extra": {
                "model": local.model,
                "timeout": local.options.request_timeout_s,
                "structured_dialect": local.options.structured_dialect,
                "max_tokens_per_call": local.options.max_tokens_per_call,
                "prices": {"*": {"input": 0, "output": 0}},  # it runs on this machine
            },
        }
        os.environ[f"AIRFLOW_CONN_{CLI_CONN_ID.upper()}"] = json.dumps(conn)
        yield Endpoint(CLI_CONN_ID, f"the embedded local model {local.model}", local=True, priced=True)


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


def prepared_dag(spec: Any) -> tuple[Any, list[str]]:
    """The job's DAG on a ready metadata DB (its LLM pool created), and the list its task
    failures are collected in ("task: Error: message"), for the one line the command prints."""
    from airflow.utils import db

    from agentjobs.operators.factory import build_dag

    db.initdb()
    if spec.pool:
        from agentjobs.pools import ensure_pool

        # As a deployment would: the job's LLM pool exists before its first run.
        if ensure_pool(spec.pool):
            print(f"agentjobs: created the Airflow pool {spec.pool!r} (1 slot) for model calls")
    dag = build_dag(spec)
    failures: list[str] = []

    def remember(context: Any) -> None:
        exc = context.get("exception")
        failures.append(
            f"{context['ti'].task_id}: {type(exc).__name__}: {exc}" if exc else context["ti"].task_id
        )

    from agentjobs.operators.run_alert import ALERT_TASK_ID

    for task in dag.tasks:
        # The run's alert task fails only to mark the run failed; the reason is its upstream's.
        if task.task_id != ALERT_TASK_ID:
            task.on_failure_callback = [remember]
    return dag, failures


def _run(spec: Any, day: date, tz: str, out: Path) -> int:
    from agentjobs.dag_test import run_dag_once

    dag, failures = prepared_dag(spec)
    logical = datetime.combine(day + timedelta(days=1), datetime.min.time(), ZoneInfo(tz)) + timedelta(
        hours=3
    )
    run = run_dag_once(dag, logical_date=logical)
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


def run_job(args: argparse.Namespace) -> int:
    """`agentjobs run JOB`: the digest's own command for digest kinds, else a fan-out run per team."""
    from agentjobs.cli_run import find_spec, run_fan_out

    project = project_dir()
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    prepare_environment(out, project, args.verbose)
    spec = find_spec(project, args.job)
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


def business_db(args: argparse.Namespace) -> int:
    from agentjobs.business.generate import generate
    from agentjobs.business.truth import truth_path

    path = args.out.resolve()
    if path.exists() and not args.force:
        # It may hold another seed, or the enrichment job's writes: replacing it is asked for.
        raise SystemExit(
            f"agentjobs: {path} exists and is kept; add --force to replace it and its truth file"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    truth = generate(path, seed=args.seed)
    print(f"agentjobs: wrote {path} and {truth_path(path)} ({truth.first_day} .. {truth.last_day})")
    if args.postgres_uri:
        import sqlalchemy as sa

        from agentjobs.business.load import load_into

        engine = sa.create_engine(args.postgres_uri)
        try:
            counts = load_into(path, engine)
        finally:
            engine.dispose()
        where = engine.url.render_as_string(hide_password=True)
        print(f"agentjobs: loaded {sum(counts.values())} rows into {where}")
    return 0


def init(args: argparse.Namespace) -> int:
    from agentjobs.cli_init import run_init

    return run_init(args)


def local_model_server(args: argparse.Namespace) -> int:
    from agentjobs.local_model import LocalModelUnavailable, serve_local_model

    try:
        serve_local_model(host=args.host, port=args.port, ctx_size=args.ctx_size)
    except LocalModelUnavailable as exc:
        print(f"agentjobs: {exc}", file=sys.stderr)
        return 1


COMMANDS = {
    "digest": run_digest,
    "run": run_job,
    "business-db": business_db,
    "init": init,
    "local-model": local_model_server,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except KeyboardInterrupt:
        print("agentjobs: interrupted", file=sys.stderr)
        return 130
    except NothingRan as exc:  # the user's choice of day, not a fault: say why, no class name
        print(f"agentjobs: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:
        from agentjobs.agent.scrub import scrub

        print(f"agentjobs: {type(exc).__name__}: {scrub(' '.join(str(exc).split()))[:500]}", file=sys.stderr)
        return 1
