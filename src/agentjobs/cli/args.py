"""The `agentjobs` command's arguments: one parser, every subcommand and its options."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

DESCRIPTION = "The `agentjobs` command: run a job once on the embedded default."


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="agentjobs", description=DESCRIPTION)
    commands = parser.add_subparsers(dest="command", required=True)
    digest = commands.add_parser("digest", help="run the daily digest once and show it")
    digest.add_argument(
        "--repo", action="append", default=[], type=folder, metavar="PATH", help="local git repository"
    )
    digest.add_argument(
        "--github", action="append", default=[], type=github, metavar="OWNER/NAME", help="GitHub repository"
    )
    digest.add_argument(
        "--feed", action="append", default=[], type=feed, metavar="URL|PATH", help="RSS or Atom feed"
    )
    digest.add_argument("--date", type=day, help="the day to digest (default: yesterday)")
    digest.add_argument("--out", type=Path, default=Path("agentjobs-out"), help="output folder")
    digest.add_argument("--timezone", type=timezone, help="time zone of the day (default: the job's)")
    add_run_options(digest)
    run = commands.add_parser("run", help="run any shipped job once (include/jobs/*.yaml) and show it")
    run.add_argument("job", help="the job's dag_id, e.g. weekly_insights, anomaly_flags, daily_digest")
    run.add_argument("--date", type=day, help="the last day covered (default: the data's last)")
    run.add_argument("--team", action="append", default=[], metavar="ID", help="only this team (repeatable)")
    run.add_argument("--out", type=Path, default=Path("agentjobs-out"), help="output folder")
    add_run_options(run)
    check = commands.add_parser(
        "check", help="check the business database against a job's inputs (before enabling it)"
    )
    check.add_argument("job", help="a shipped job's dag_id, or the path of a spec file")
    check.add_argument("--date", type=day, help="the day whose binds are sampled (default: today)")
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
    add_eval(commands)
    model = commands.add_parser(
        "local-model", help="serve the embedded model (OpenAI-compatible) in the foreground until stopped"
    )
    model.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0 in a container)")
    model.add_argument("--port", type=tcp_port, default=8080)
    model.add_argument("--ctx-size", type=positive, default=8192, help="context window in tokens")
    return parser.parse_args(argv)


def add_eval(commands: Any) -> None:
    ev = commands.add_parser(
        "eval",
        help="replay a job's stored runs on another model or skill and compare (delivers nothing)",
        description="Rerun the snapshots of the job's last LAST_N stored runs (per team for a fan-out "
        "job) on the connection --llm-conn (and the skills of --skills), through the job's own plan, "
        "contract and checks; delivering nothing. Prints a table beside what was delivered and "
        "writes it as JSON to <out>/<job>/_evals/<eval id>.json.",
    )
    ev.add_argument("job", help="the job's dag_id, e.g. daily_digest, anomaly_flags")
    ev.add_argument(
        "--runs", type=positive, default=10, metavar="LAST_N", help="how many stored runs (default 10)"
    )
    ev.add_argument(
        "--llm-conn", required=True, metavar="CONN_ID", help="the agentjobs_llm connection to try"
    )
    ev.add_argument(
        "--skills", type=skills_folder, metavar="DIR", help="a skills folder to try (default: the job's own)"
    )
    ev.add_argument(
        "--out",
        type=Path,
        help="the folder holding the runs (default: $AGENTJOBS_ARTIFACT_BASE, else agentjobs-out)",
    )
    ev.add_argument("--json", action="store_true", help="print the report as JSON instead of a table")
    ev.add_argument("--max-iterations", type=cap("max_iterations", int))
    ev.add_argument(
        "--max-tokens", type=cap("max_total_tokens", int), help="total token budget of each rerun"
    )
    ev.add_argument("--max-cost-usd", type=cap("max_cost_usd", float))
    ev.add_argument("--verbose", action="store_true", help="show Airflow's own logs")


def positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not allowed: it should be 1 or more")
    return value


def tcp_port(text: str) -> int:
    """A port to listen on: llama-server takes 99999 as another port (mod 65536), and the command
    would announce the one it was given."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a TCP port (1-65535)")
    return value


def skills_folder(text: str) -> str:
    if not Path(text).is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is no folder here; give a folder of skills")
    return text


def add_run_options(command: argparse.ArgumentParser) -> None:
    """The caps, mode and verbosity that `digest` and `run` both take for their one run."""
    command.add_argument("--max-iterations", type=cap("max_iterations", int))
    command.add_argument("--max-tokens", type=cap("max_total_tokens", int), help="total token budget")
    command.add_argument("--max-cost-usd", type=cap("max_cost_usd", float))
    command.add_argument("--mode", choices=["structured", "loop"], help="default: the job's mode")
    command.add_argument("--verbose", action="store_true", help="show Airflow's own logs")


# Each option's value is checked as it is parsed, so a mistake exits 2 naming the option before
# the command generates a database or starts the model (which takes a while).


def day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a day; use YYYY-MM-DD") from None


def folder(text: str) -> str:
    """A --repo path: a folder that is there (the scheduled job skips a missing one with a
    warning; here a typo would digest nothing after a minute of running)."""
    if not Path(text).is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is no folder here; give a git repository's path")
    return text


def feed(text: str) -> str:
    """A --feed: a URL, or a file that is there."""
    if "://" not in text and not Path(text).is_file():
        raise argparse.ArgumentTypeError(
            f"{text!r} is neither a URL nor a file here; give the feed's URL or file"
        )
    return text


def github(text: str) -> str:
    """A --github repository as the spec's github source takes it: OWNER/NAME."""
    from pydantic import ValidationError

    from agentjobs.jobs.spec import GitHubSource

    try:
        GitHubSource.model_validate({"repos": [text]})
    except ValidationError:
        raise argparse.ArgumentTypeError(f"{text!r} is not OWNER/NAME (e.g. apache/airflow)") from None
    return text


def timezone(text: str) -> str:
    from agentjobs.jobs.zones import zone_problem

    problem = zone_problem(text)
    if problem == "not in the tz database":
        raise argparse.ArgumentTypeError(f"{text!r} is not an IANA time zone (e.g. Europe/Berlin)")
    if problem:  # e.g. 'localtime': each host's own
        raise argparse.ArgumentTypeError(f"{text!r} is {problem}; use an IANA time zone (e.g. Europe/Berlin)")
    return text


def cap(name: str, number: Callable[[str], float]) -> Callable[[str], float]:
    """The parser of one cap's option: a number within the bounds the Caps model gives `name`."""

    def parse(text: str) -> float:
        from pydantic import ValidationError

        from agentjobs.agent.caps import Caps

        try:
            value = number(text)
        except ValueError:
            kind = "a whole number" if number is int else "a number"
            raise argparse.ArgumentTypeError(f"{text!r} is not {kind}") from None
        try:
            Caps.model_validate({name: value})
        except ValidationError as exc:  # "Input should be greater than 0" → "it should be ..."
            why = exc.errors()[0]["msg"].replace("Input should", "it should")
            raise argparse.ArgumentTypeError(f"{text!r} is not allowed: {why}") from None
        return value

    parse.__name__ = number.__name__  # argparse names the type in its own messages
    return parse
