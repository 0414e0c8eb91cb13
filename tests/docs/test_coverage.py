"""Every key a job spec may have and every option of the `agentjobs` command is documented in the
manual's own words (the generated spec reference aside), and the front page stays a front page."""

from __future__ import annotations

import argparse
import re

import pytest

from agentjobs.airflow_config import OPTIONS
from agentjobs.cli import args as cli_args
from agentjobs.jobs.spec_reference import field_names
from tests.conftest import REPO

DOCS = REPO / "docs"
# Each lists every key or option by construction: not evidence that the manual explains it.
GENERATED = {DOCS / "reference" / "spec.md", DOCS / "reference" / "config.md"}


def _code_text(markdown: str) -> str:
    """The code of a page: code spans, fenced and indented blocks. A key counts as documented
    where it is written as code (`period_days`, `period_days: 7`), not where an English word
    happens to match it (`enabled`, `table`)."""
    parts, fenced = [], False
    for line in markdown.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif fenced or line.startswith("    "):
            parts.append(line)
        else:
            parts.extend(re.findall(r"`([^`]+)`", line))
    return "\n".join(parts)


def _written(name: str, text: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", text) is not None


@pytest.fixture(scope="module")
def manual_code() -> str:
    pages = [p for p in DOCS.rglob("*.md") if p not in GENERATED]
    return "\n".join(_code_text(p.read_text(encoding="utf-8")) for p in pages)


def test_every_spec_key_is_documented(manual_code) -> None:
    missing = [
        f"{section}: {name}"
        for section, names in field_names().items()
        for name in sorted(names)
        if not _written(name, manual_code)
    ]
    assert not missing, (
        "spec keys the manual never writes as code (describe each on its kind's or topic's page "
        f"under docs/): {missing}"
    )


def test_every_airflow_config_option_is_documented(manual_code) -> None:
    missing = [f"[agentjobs] {option.name}" for option in OPTIONS if not _written(option.name, manual_code)]
    assert not missing, (
        "[agentjobs] options no page explains beside the generated reference (say on the page of "
        f"the feature it sets what it does): {missing}"
    )


def test_a_settings_table_gives_an_options_declared_default() -> None:
    # A row such as "| `[agentjobs] trace_content` | `False` | ... |" on any page.
    row = re.compile(r"^\|[^|]*`\[agentjobs\] (\w+)`[^|]*\|\s*([^|]*?)\s*\|", re.MULTILINE)
    defaults = {option.name: f"`{option.default}`" if option.default else "unset" for option in OPTIONS}
    rows = [
        (p.name, *found) for p in DOCS.rglob("*.md") for found in row.findall(p.read_text(encoding="utf-8"))
    ]
    assert rows, "docs/observability.md's settings table lists trace_content"
    wrong = [f"{page}: {name} {shown}" for page, name, shown in rows if defaults.get(name) != shown]
    assert not wrong, (
        f"defaults the docs give that the declarations (agentjobs.airflow_config) do not: {wrong}"
    )


def test_a_key_the_manual_lacks_is_named() -> None:
    assert _written("period_days", "`period_days` 1 to 366")
    assert not _written("period_days", "the period, in days")
    assert not _written("days", "`period_days`")


class _Parsed(Exception):
    def __init__(self, parser: argparse.ArgumentParser) -> None:
        self.parser = parser


def _parser(monkeypatch) -> argparse.ArgumentParser:
    """The command's parser as `parse_args` builds it (caught when it is asked to parse)."""

    def capture(self: argparse.ArgumentParser, *args: object, **kwargs: object) -> None:
        raise _Parsed(self)

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", capture)
    with pytest.raises(_Parsed) as caught:
        cli_args.parse_args([])
    return caught.value.parser


def _commands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    subparsers = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return {name: sub for action in subparsers for name, sub in action.choices.items()}


def test_every_command_and_option_is_documented(monkeypatch) -> None:
    manual = "\n".join(p.read_text(encoding="utf-8") for p in DOCS.rglob("*.md"))
    commands = _commands(_parser(monkeypatch))
    assert {"digest", "run", "check", "inputs", "business-db", "init", "local-model"} <= set(commands)
    missing = []
    for name, command in commands.items():
        if f"agentjobs {name}" not in manual:
            missing.append(f"agentjobs {name}")
        options = [
            s for a in command._actions for s in a.option_strings if s.startswith("--") and s != "--help"
        ]
        missing += [f"agentjobs {name} {option}" for option in options if not _written(option, manual)]
    assert not missing, (
        f"commands and options docs/ never mentions (docs/reference/cli.md lists them): {missing}"
    )


README = REPO / "README.md"


def test_the_readme_is_a_front_page_whose_links_lead_somewhere() -> None:
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 200
    for marker in (
        "<!-- test-command -->",
        "<!-- digest-command -->",
        "<!-- job-command weekly_insights -->",
    ):
        assert marker in text.splitlines(), (
            f"{marker} must stay in README.md: .ci/run reads the command after it"
        )
    targets = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", text)
    assert any(t.startswith("docs/") for t in targets)
    broken = [t for t in targets if "://" not in t and not (REPO / t).exists()]
    assert not broken, f"README.md links to what is not there: {broken}"


def _commands_after_markers(text: str) -> list[str]:
    lines = text.splitlines()
    return [
        lines[i + 2]
        for i, line in enumerate(lines)
        if line in ("<!-- digest-command -->", "<!-- test-command -->")
    ]


def test_getting_started_shows_the_readmes_two_commands() -> None:
    commands = _commands_after_markers(README.read_text(encoding="utf-8"))
    assert len(commands) == 2
    page = (DOCS / "getting-started.md").read_text(encoding="utf-8")
    for command in commands:
        assert f"```\n{command}\n```" in page, (
            f"docs/getting-started.md does not show the README's {command!r}"
        )
