"""The `[agentjobs]` configuration reference page, written from the options' declarations.

docs/reference/config.md is this module's output, so the page lists exactly the options
`airflow config list` shows, with the same defaults and descriptions. A test fails when the file
differs from the declarations, naming the command that rewrites it:

    python -m agentjobs.airflow_config_reference > docs/reference/config.md
"""

from __future__ import annotations

import re
import sys

from agentjobs.airflow_config import OPTIONS, SECTION, Option

REGENERATE = "python -m agentjobs.airflow_config_reference > docs/reference/config.md"

INTRO = f"""\
# Airflow configuration: `[{SECTION}]`

<!-- Generated from agentjobs.airflow_config.OPTIONS by agentjobs.airflow_config_reference;
     do not edit. Regenerate: {REGENERATE} -->

The options agentjobs reads from Airflow's configuration. Set each in `airflow.cfg`'s
`[{SECTION}]` section or as its environment variable (which wins), on every process that runs
tasks and on the api-server. `airflow config list --section {SECTION} --show-values` shows what a
process reads; an option left unset is listed commented out. Everything else is set per job (the
[job spec](spec.md)) or on the [LLM connection](../llm-connection.md).
"""


def _code(text: str | None) -> str:
    return f"`{text}`" if text else "unset"


def _prose(description: str) -> str:
    """The declaration's reStructuredText (what `airflow config list` prints) as Markdown."""
    return re.sub(r"``([^`]+)``", r"`\1`", " ".join(description.split()))


def _table() -> str:
    rows = [
        f"| [`{o.name}`](#{o.name}) | `{o.env_var}` | {o.type} | {_code(o.default)} | {_code(o.example)} |"
        for o in OPTIONS
    ]
    head = "| option | environment variable | type | default | example |\n| --- | --- | --- | --- | --- |"
    return "\n".join([head, *rows])


def _section(option: Option) -> str:
    return f"## `{option.name}` {{#{option.name}}}\n\n{_prose(option.description)}\n"


def markdown() -> str:
    """The whole page."""
    return "\n".join([INTRO, _table(), "", *(_section(option) for option in OPTIONS)])


if __name__ == "__main__":
    sys.stdout.write(markdown())
