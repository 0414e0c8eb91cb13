"""The `[agentjobs]` section of Airflow's configuration: every option agentjobs reads, declared once.

`get_provider_info()["config"]` is built from `OPTIONS`, so `airflow config list` shows each
option with its description, and the code reads every option through `value` or `flag` below,
whose fallback is the declared default: a default lives here and nowhere else. Reading a name
that is not declared raises KeyError, so a typo in the code fails at once instead of reading
the fallback forever (tests/test_airflow_config.py also checks every read in the source).

Importing this module stays cheap: Airflow's provider manager calls `get_provider_info` at
start-up, and the readers import Airflow's configuration only when called.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Literal

SECTION = "agentjobs"
SECTION_DESCRIPTION = "Settings of the agentjobs provider that are the same for every job of a deployment.\n"
VERSION_ADDED = "0.1.0"
# What Airflow's `getboolean` accepts; anything else is an error there and here.
_BOOLEANS = {"t": True, "true": True, "1": True, "f": False, "false": False, "0": False}

OptionType = Literal["string", "boolean", "integer", "float"]


@dataclass(frozen=True)
class Option:
    name: str
    type: OptionType
    default: str | None  # None: unset (the option reads as ""); as written in airflow.cfg otherwise
    example: str | None
    description: str  # what a user needs to know to set it, in Airflow's reStructuredText style
    version_added: str = VERSION_ADDED

    @property
    def env_var(self) -> str:
        return f"AIRFLOW__{SECTION.upper()}__{self.name.upper()}"

    def provider_info(self) -> dict[str, Any]:
        """The option as provider_info.schema.json's `option` describes it."""
        return {
            "description": self.description,
            "version_added": self.version_added,
            "type": self.type,
            "example": self.example,
            "default": self.default,
        }


OPTIONS: tuple[Option, ...] = (
    Option(
        name="run_files",
        type="string",
        default=None,
        example="s3://my-bucket/agentjobs",
        description=(
            "Where a run's files live when its tasks may run on different hosts with no shared disk:\n"
            "a folder URL that Airflow's ``ObjectStoragePath`` reaches (``s3://bucket/prefix``,\n"
            "``gs://...``, ``file:///shared/folder``). Unset, run files stay on local disk\n"
            "(``$AGENTJOBS_ARTIFACT_BASE``, else ``$AIRFLOW_HOME/agentjobs-artifacts``), which is right\n"
            "for one host or a shared volume. The URL must not hold a user or password (it shows in\n"
            "every logged path): name a connection in ``run_files_conn_id``. Every process that runs\n"
            "tasks, and the api-server for the UI page, needs the same value.\n"
        ),
    ),
    Option(
        name="run_files_conn_id",
        type="string",
        default=None,
        example="aws_default",
        description=(
            "The Airflow connection ``run_files`` is reached through (an ``aws`` connection for\n"
            "``s3://``). Unset, the store's provider picks its default connection (``aws_default``\n"
            "for ``s3://``).\n"
        ),
    ),
    Option(
        name="trace_content",
        type="boolean",
        default="False",
        example="True",
        description=(
            "With ``[traces] otel_on``, also put prompts, model replies, tool arguments and tool results\n"
            "on the agent's OpenTelemetry spans, scrubbed of the run's secrets. Off (the default), no\n"
            "prompt, reply or tool text is put on a span: the business's data never reaches the trace\n"
            "backend, which is usually readable by more people than a task's log. Read by every agent\n"
            "task, tracing on or off: a value that is not a boolean fails the task, naming the option.\n"
        ),
    ),
)
_BY_NAME = {option.name: option for option in OPTIONS}


def declared(name: str) -> Option:
    """The declared option `name`; KeyError names the section's options when it is not one."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"[{SECTION}] {name} is not a declared option; declared: {sorted(_BY_NAME)}") from None


def provider_config() -> dict[str, Any]:
    """The `config` entry of `get_provider_info()`."""
    options = {option.name: option.provider_info() for option in OPTIONS}
    return {SECTION: {"description": SECTION_DESCRIPTION, "options": options}}


def value(name: str) -> str:
    """The option as configured (environment, airflow.cfg, secrets), stripped; "" when unset."""
    option = declared(name)
    fallback = option.default or ""
    try:
        from airflow.configuration import conf
    except ImportError:  # a worker with the task SDK only: its environment is all it has
        return os.environ.get(option.env_var, fallback).strip()
    return str(conf.get(SECTION, name, fallback=fallback) or "").strip()


def flag(name: str) -> bool:
    """A boolean option as Airflow's `getboolean` reads it: a value it would refuse is refused."""
    option = declared(name)
    if option.type != "boolean":
        raise TypeError(f"[{SECTION}] {name} is a {option.type} option, not a boolean")
    written = value(name).split("#")[0].strip().lower()
    if written not in _BOOLEANS:
        raise ValueError(f"[{SECTION}] {name} = {written!r} is not a boolean; write True or False")
    return _BOOLEANS[written]
