"""The job spec: one YAML file per job in include/jobs/.

A spec is validated strictly (unknown keys are errors) so a typo fails DAG parsing with a
message naming the file and the field, instead of a job that silently does less.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

_STRICT = ConfigDict(extra="forbid")


class JobSpecError(ValueError):
    """A job spec is malformed; the message names the file, the field and the fix."""


class GitSource(BaseModel):
    model_config = _STRICT
    repos: list[str] = Field(min_length=1)  # paths; relative ones are relative to the spec's repo root


class GitHubSource(BaseModel):
    model_config = _STRICT
    repos: list[Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")]] = Field(min_length=1)
    conn_id: str = "github_default"  # password: the token; host: API URL (default api.github.com)


class RssSource(BaseModel):
    model_config = _STRICT
    feeds: list[str] = Field(min_length=1)  # URLs or file paths


class Sources(BaseModel):
    model_config = _STRICT
    git: GitSource | None = None
    github: GitHubSource | None = None
    rss: RssSource | None = None

    def names(self) -> list[str]:
        return [name for name in ("git", "github", "rss") if getattr(self, name) is not None]


class Caps(BaseModel):
    model_config = _STRICT
    max_iterations: int = Field(40, ge=1)
    max_total_tokens: int | None = Field(60_000, gt=0)
    max_cost_usd: float | None = Field(None, gt=0)
    timeout_s: float | None = Field(900, gt=0)


class EmailChannel(BaseModel):
    model_config = _STRICT
    type: Literal["email"]
    conn_id: str = "smtp_default"
    to: list[str] = Field(min_length=1)
    subject: str = "{title} — {day}"


class SlackChannel(BaseModel):
    model_config = _STRICT
    type: Literal["slack"]
    conn_id: str = "slack_default"  # a `slack` (API token) or `slackwebhook` connection
    channel: str | None = None  # needed for `slack` API connections
    # A forced re-delivery edits the message posted before (by its stored ts) instead of posting
    # a second one; webhooks cannot edit, so there it always posts.
    update_on_redeliver: bool = True


class S3Channel(BaseModel):
    model_config = _STRICT
    type: Literal["s3"]
    conn_id: str = "aws_default"
    bucket: str
    prefix: str = "reports"


Channel = Annotated[EmailChannel | SlackChannel | S3Channel, Field(discriminator="type")]


class JobSpec(BaseModel):
    model_config = _STRICT
    dag_id: str = Field(pattern=r"^[a-zA-Z0-9_.-]+$")
    title: str
    description: str = ""
    schedule: str = "0 3 * * *"  # cron, in `timezone`
    timezone: str = "UTC"
    start_date: date
    catchup: bool = True
    period_days: int = Field(1, ge=1)  # how many days before the logical date the job covers
    skill: str
    mode: Literal["loop", "structured"] | None = None  # None: the skill's own mode
    llm_conn_id: str = "agentjobs_llm_default"
    model: str | None = None
    caps: Caps = Field(default_factory=Caps)
    allow_empty: bool = False
    commits_cap: int = Field(30, ge=1)  # past this, the digest says "+N more"
    highlights_max: int = Field(5, ge=0)
    sources: Sources
    channels: list[Channel] = Field(default_factory=list)
    ledger_conn_id: str | None = None  # None: a SQLite file in $AIRFLOW_HOME
    alert: EmailChannel | SlackChannel | None = Field(None, discriminator="type")  # where failures go
    # A run not finished this many minutes after it was queued pages the alert channel.
    deadline_minutes: int | None = Field(None, gt=0)
    pool: str | None = None  # e.g. "agentjobs_llm": caps LLM concurrency across jobs (create the pool first)
    # Transient failures (429, 5xx, timeouts, a killed worker) retry after retry_delay_s, doubled
    # on each further try (Airflow's exponential backoff); permanent ones never retry.
    retries: int = Field(1, ge=0, le=10)  # the seed's backoffLimit: 1
    retry_delay_s: float = Field(120, gt=0)
    tags: list[str] = Field(default_factory=list)

    def alert_kwargs(self) -> dict[str, Any]:
        """JobAlertNotifier's arguments for this job's alert channel (which must be set)."""
        if self.alert is None:
            raise ValueError(f"job {self.dag_id!r} has no alert channel")
        return {
            "channel_type": self.alert.type,
            "conn_id": self.alert.conn_id,
            "slack_channel": getattr(self.alert, "channel", None),
            "to": list(getattr(self.alert, "to", ())),
            "job_title": self.title,
            "timezone": self.timezone,
            "period_days": self.period_days,
        }

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError) as exc:  # "Europe" is a folder: OSError
            raise ValueError(f"unknown time zone {value!r}; use an IANA name such as Europe/Berlin") from exc
        return value

    @field_validator("sources")
    @classmethod
    def _some_source(cls, value: Sources) -> Sources:
        if not value.names():
            raise ValueError("name at least one source: git, github or rss")
        return value


def _field_path(loc: tuple[object, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(top level)"


def load_spec(path: Path) -> JobSpec:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise JobSpecError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise JobSpecError(f"{path}: a job spec is a YAML mapping (dag_id, title, skill, sources, ...)")
    try:
        return JobSpec.model_validate(raw)
    except ValidationError as exc:
        problems = [f"field '{_field_path(e['loc'])}': {e['msg']}" for e in exc.errors(include_url=False)]
        raise JobSpecError(f"{path}: invalid job spec: " + "; ".join(problems)) from None


def load_specs(folder: Path) -> list[JobSpec]:
    """Every *.yaml spec in `folder`, sorted by file name; duplicate dag_ids are an error."""
    specs = [load_spec(p) for p in sorted(folder.glob("*.yaml"))]
    seen: dict[str, int] = {}
    for spec in specs:
        seen[spec.dag_id] = seen.get(spec.dag_id, 0) + 1
    duplicated = sorted(d for d, n in seen.items() if n > 1)
    if duplicated:
        raise JobSpecError(f"{folder}: dag_id used by more than one spec: {duplicated}")
    return specs
