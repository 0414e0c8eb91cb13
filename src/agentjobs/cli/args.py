"""The `agentjobs` command's arguments: one parser, every subcommand and its options."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from datetime import date
from pathlib import Path

DESCRIPTION = "The `agentjobs` command: run a job once on the embedded default."


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="agentjobs", description=DESCRIPTION)
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
    add_run_options(digest)
    run = commands.add_parser("run", help="run any shipped job once (include/jobs/*.yaml) and show it")
    run.add_argument("job", help="the job's dag_id, e.g. weekly_insights, anomaly_flags, daily_digest")
    run.add_argument(
        "--date", type=date.fromisoformat, help="the last day covered (default: the data's last)"
    )
    run.add_argument("--team", action="append", default=[], metavar="ID", help="only this team (repeatable)")
    run.add_argument("--out", type=Path, default=Path("agentjobs-out"), help="output folder")
    add_run_options(run)
    check = commands.add_parser(
        "check", help="check the business database against a job's inputs (before enabling it)"
    )
    check.add_argument("job", help="a shipped job's dag_id, or the path of a spec file")
    check.add_argument(
        "--date", type=date.fromisoformat, help="the day whose binds are sampled (default: today)"
    )
    check.add_argument("--out", type=Path, default=Path("agentjobs-out"), help="output folder")
    inputs = commands.add_parser(
        "inputs", help="print the columns each kind's inputs and write targets need (to map your schema)"
    )
    inputs.add_argument("kind", nargs="?", metavar="KIND", help="only this kind (default: every kind)")
    inputs.add_argument("--markdown", action="store_true", help="Markdown tables (as docs/inputs.md)")
    db = commands.add_parser("business-db", help="write the sample business database (and its truth.json)")
    db.add_argument("--out", type=Path, default=Path("agentjobs-out") / "business.db", help="SQLite file")
    db.add_argument("--seed", type=int, default=7)
    db.add_argument("--postgres-uri", help="also load it into this database, e.g. postgresql://user@host/db")
    db.add_argument("--force", action="store_true", help="replace the file (and its truth) if it exists")
    db.add_argument(
        "--schema",
        choices=("sample", "ledgerly"),
        default="sample",
        help="which database: the sample (SQLite, copied to --postgres-uri if given) or ledgerly, a "
        "product-shaped schema on PostgreSQL only (needs --postgres-uri; its truth is written "
        "beside --out as ledgerly.truth.json)",
    )
    db.add_argument("--pg-schema", default="ledgerly", help="the PostgreSQL schema ledgerly is loaded into")
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


def add_run_options(command: argparse.ArgumentParser) -> None:
    """The caps, mode and verbosity that `digest` and `run` both take for their one run."""
    command.add_argument("--max-iterations", type=int)
    command.add_argument("--max-tokens", type=int, help="total token budget")
    command.add_argument("--max-cost-usd", type=float)
    command.add_argument("--mode", choices=["structured", "loop"], help="default: the job's mode")
    command.add_argument("--verbose", action="store_true", help="show Airflow's own logs")
