"""The `agentjobs` command's arguments: what each subcommand takes and what its help says."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from agentjobs.cli import main
from agentjobs.cli.args import parse_args


def test_the_help_says_where_init_writes_by_default(capsys):
    with pytest.raises(SystemExit):
        main(["init", "--help"])
    assert "default: Airflow's configured [core] dags_folder" in " ".join(capsys.readouterr().out.split())


def test_digest_takes_repeatable_sources_a_day_and_the_run_caps(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    sources = ["--repo", "a", "--repo", "b", "--feed", "https://example.org/feed.xml", "--date", "2026-11-24"]
    caps = ["--max-iterations", "3", "--max-cost-usd", "0.5", "--mode", "loop"]
    args = parse_args(["digest", *sources, *caps])
    assert (args.repo, args.github, args.feed) == (["a", "b"], [], ["https://example.org/feed.xml"])
    assert args.date == date(2026, 11, 24) and args.out == Path("agentjobs-out")
    assert (args.max_iterations, args.max_tokens, args.max_cost_usd) == (3, None, 0.5)
    assert args.mode == "loop" and args.verbose is False and args.timezone is None


def test_run_and_business_db_take_their_own_defaults():
    run = parse_args(["run", "anomaly_flags", "--team", "team-la", "--team", "team-berlin", "--verbose"])
    assert (run.job, run.team, run.date, run.verbose) == (
        "anomaly_flags",
        ["team-la", "team-berlin"],
        None,
        True,
    )
    db = parse_args(["business-db"])
    assert (db.out, db.seed, db.postgres_uri, db.force) == (
        Path("agentjobs-out") / "business.db",
        7,
        None,
        False,
    )
    model = parse_args(["local-model"])
    assert (model.host, model.port, model.ctx_size) == ("127.0.0.1", 8080, 8192)


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["digest", "--date", "24.11.2026"], "argument --date: '24.11.2026' is not a day; use YYYY-MM-DD"),
        # Checked as parsed, before a database is generated or the model started (it took a minute
        # to end in pydantic's "caps.max_iterations" or, for a missing repository, in "items is 0").
        (
            ["run", "weekly_insights", "--max-iterations", "0"],
            "argument --max-iterations: '0' is not allowed: it should be greater than or equal to 1",
        ),
        (
            ["digest", "--max-cost-usd", "-1"],
            "argument --max-cost-usd: '-1' is not allowed: it should be greater than 0",
        ),
        (
            ["run", "anomaly_flags", "--max-tokens", "1.5"],
            "argument --max-tokens: '1.5' is not a whole number",
        ),
        (
            ["digest", "--repo", "/no/such/repository"],
            "argument --repo: '/no/such/repository' is no folder here; give a git repository's path",
        ),
        (["digest", "--github", "not-a-repo"], "argument --github: 'not-a-repo' is not OWNER/NAME"),
        (
            ["digest", "--timezone", "Mars/Olympus"],
            "argument --timezone: 'Mars/Olympus' is not an IANA time zone (e.g. Europe/Berlin)",
        ),
        (  # a folder of the tz database: it crashed with IsADirectoryError
            ["digest", "--timezone", "Europe"],
            "argument --timezone: 'Europe' is not an IANA time zone (e.g. Europe/Berlin)",
        ),
        (
            ["digest", "--timezone", "localtime"],
            "argument --timezone: 'localtime' is this machine's own zone, which differs between hosts",
        ),
        (
            ["digest", "--feed", "no-such-feed.xml"],
            "argument --feed: 'no-such-feed.xml' is neither a URL nor a file here",
        ),
        (["run", "weekly_insights", "--mode", "agent"], "invalid choice: 'agent'"),
        (["run"], "the following arguments are required: job"),
        (["eval", "anomaly_flags"], "the following arguments are required: --llm-conn"),
        (["eval", "anomaly_flags", "--llm-conn", "x", "--runs", "0"], "argument --runs: '0' is not allowed"),
        (
            ["eval", "anomaly_flags", "--llm-conn", "x", "--skills", "no-such-dir"],
            "argument --skills: 'no-such-dir' is no folder",
        ),
        ([], "the following arguments are required: command"),
        # llama-server took 99999 as another port (mod 65536) while the command announced :99999.
        (["local-model", "--port", "99999"], "argument --port: '99999' is not a TCP port (1-65535)"),
        (["local-model", "--port", "0"], "argument --port: '0' is not a TCP port (1-65535)"),
        (["local-model", "--ctx-size", "0"], "argument --ctx-size: '0' is not allowed: it should be 1"),
    ],
)
def test_a_wrong_argument_exits_2_naming_it(argv, named, capsys):
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    assert stopped.value.code == 2
    assert named in capsys.readouterr().err
