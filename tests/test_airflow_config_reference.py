"""docs/reference/config.md is what the [agentjobs] declarations say, in Markdown."""

from __future__ import annotations

from agentjobs.airflow_config import OPTIONS
from agentjobs.airflow_config_reference import REGENERATE, _prose, markdown
from tests.conftest import REPO

DOC = REPO / "docs" / "reference" / "config.md"


def test_docs_reference_config_md_is_what_the_options_declare() -> None:
    written = DOC.read_text(encoding="utf-8") if DOC.is_file() else ""
    assert written == markdown(), (
        f"docs/reference/config.md differs from the declarations; regenerate it: {REGENERATE}"
    )


def test_each_option_has_its_row_and_its_section() -> None:
    page = markdown()
    assert (
        "| [`trace_content`](#trace_content) | `AIRFLOW__AGENTJOBS__TRACE_CONTENT` | boolean | `False` |"
        in page
    )
    assert "| [`run_files`](#run_files) | `AIRFLOW__AGENTJOBS__RUN_FILES` | string | unset |" in page
    for option in OPTIONS:
        assert f"## `{option.name}` {{#{option.name}}}" in page


def test_airflows_double_backticks_read_as_markdown_code() -> None:
    assert _prose("Set ``[traces] otel_on``\nfirst.\n") == "Set `[traces] otel_on` first."
