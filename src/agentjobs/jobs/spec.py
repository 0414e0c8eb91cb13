"""The job spec: one YAML file per job in include/jobs/.

A spec is validated strictly (unknown keys are errors) so a typo fails DAG parsing with a
message naming the file and the field, instead of a job that silently does less.
"""

# Annotations evaluated at once, not postponed: pydantic would compile and evaluate each field's
# annotation text at every DAG parse (bench/dag_parse.py).

import math
import re
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any, Literal, NamedTuple

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    PrivateAttr,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    Strict,
    ValidationError,
    field_validator,
    model_serializer,
    model_validator,
)
from pydantic_core import to_jsonable_python

from agentjobs.agent.caps import Caps
from agentjobs.agent.skill_names import NAME_RE as SKILL_NAME_RE
from agentjobs.agent.unique_yaml import DuplicateKeyError, NoSuchDayError, load_unique
from agentjobs.jobs.addresses import OneLine
from agentjobs.jobs.addresses import email_address as _email_address
from agentjobs.jobs.addresses import is_plain_address as is_plain_address  # where callers found it
from agentjobs.jobs.channels.base import WRITTEN_IN_A_FILE, ChannelSpec
from agentjobs.jobs.channels.registry import AlertChannel, Channel, alert_channel_of
from agentjobs.jobs.zones import zone_problem
from agentjobs.sources.sql_limits import (
    DEFAULT_ROW_CAP,
    DEFAULT_STATEMENT_TIMEOUT_S,
    MAX_ROW_CAP,
    MAX_STATEMENT_TIMEOUT_S,
    ReadLimits,
)

# Unknown keys are errors, and .inf / .nan are refused: an infinite timeout or cost cap passes a
# `gt=0` check and only breaks later, when the DAG or the run does arithmetic with it.
_STRICT = ConfigDict(extra="forbid", allow_inf_nan=False, defer_build=True)
# Counts are YAML integers: `retries: yes` is a mistake, not 1.
Count = Annotated[int, Strict()]

# Airflow's own key characters, minus the names that are path components ('.', '..'): the
# dag_id is also the folder of the job's files under the artifact base. Checks of input use
# fullmatch: `$` with match() also accepts a trailing newline ("team_digest\n").
DAG_ID_RE = re.compile(r"[A-Za-z0-9_.-]{1,250}")
RESERVED_DAG_IDS = frozenset({"agentjobs_health"})  # the health check's own DAG
DIGEST_KIND = "digest"


def check_dag_id(value: str) -> str:
    if not DAG_ID_RE.fullmatch(value) or value in (".", ".."):
        raise ValueError(
            f"{value!r} is not a usable dag_id; use 1-250 letters, digits, '_', '-' or '.' "
            "(not '.' or '..' alone, no '/' or spaces), e.g. team_digest"
        )
    if value in RESERVED_DAG_IDS:
        raise ValueError(f"{value!r} is the health check's own DAG; pick another dag_id")
    return value


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


# A table or view name, optionally schema-qualified: it goes into SQL, so nothing else.
_TABLE_NAME = r"^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)?$"


class InputMapping(BaseModel):
    """Where one declared input (jobs/inputs.py) comes from in the user's database: a whole
    query with the input's named binds (`:team_id`), or a table/view exposing its columns;
    `personal` marks more of its columns as personal data (pseudonymized before the model sees
    them), and alone keeps the sample's SQL."""

    model_config = _STRICT
    sql: str | None = Field(None, min_length=1)
    table: str | None = Field(None, pattern=_TABLE_NAME)
    personal: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _one_of(self) -> "InputMapping":
        if self.sql is not None and self.table is not None:
            raise ValueError("map an input with exactly one of `sql` (a query) or `table` (a table or view)")
        if self.sql is None and self.table is None and not self.personal:
            raise ValueError(
                "map an input with exactly one of `sql` (a query) or `table` (a table or view), "
                "or mark its `personal` columns"
            )
        return self


_COLUMN_NAME = r"^[A-Za-z_][A-Za-z0-9_$]*$"
ColumnName = Annotated[str, Field(pattern=_COLUMN_NAME)]


class UpdateTarget(BaseModel):
    """A write target as an UPDATE of the user's rows: the row whose `key` column is the record's
    id, the target's columns -> the user's, written only while they are NULL (jobs/writes.py)."""

    model_config = _STRICT
    table: str = Field(pattern=_TABLE_NAME)
    key: ColumnName
    columns: dict[str, ColumnName] = Field(min_length=1)


class WriteMapping(BaseModel):
    """Where one declared write target (jobs/writes.py) goes in the user's database: rows inserted
    into `table` (target column -> the user's column in `columns`), or an `update` of their rows.
    Never SQL of the user's: the statements are built from these names."""

    model_config = _STRICT
    table: str | None = Field(None, pattern=_TABLE_NAME)
    columns: dict[str, ColumnName] = Field(default_factory=dict)
    update: UpdateTarget | None = None

    @model_validator(mode="after")
    def _one_of(self) -> "WriteMapping":
        if (self.table is None) == (self.update is None):
            raise ValueError("map a write target with exactly one of `table` (+ `columns`) or `update`")
        if self.table is not None and not self.columns:
            raise ValueError(f"name the columns of {self.table} the target writes, under `columns`")
        if self.update is not None and self.columns:
            raise ValueError("an `update` names its columns under update.columns")
        return self


class SqlSource(BaseModel):
    """The business database, read through an Airflow SQL connection (common-sql's hooks)."""

    model_config = _STRICT
    # `sqlite` (the embedded default: the generated sample database) or `postgres` in production.
    conn_id: str = "agentjobs_business"
    # input name -> its mapping; an input not named here reads the sample database's SQL.
    inputs: dict[str, InputMapping] = Field(default_factory=dict)
    # write target name -> where it goes; a target not named here writes the sample's tables.
    writes: dict[str, WriteMapping] = Field(default_factory=dict)
    # PostgreSQL: the schema of agentjobs' own tables (created when missing) once writes are mapped.
    own_schema: str = Field("agentjobs", pattern=_COLUMN_NAME)
    # The reader's limits (sources/read_only.py): a query returning more rows than `row_cap`, or a
    # statement running longer than `statement_timeout_s`, fails the read naming the query.
    row_cap: Count = Field(DEFAULT_ROW_CAP, ge=1, le=MAX_ROW_CAP)
    statement_timeout_s: float = Field(DEFAULT_STATEMENT_TIMEOUT_S, gt=0, le=MAX_STATEMENT_TIMEOUT_S)

    def limits(self) -> ReadLimits:
        return ReadLimits(row_cap=self.row_cap, statement_timeout_s=self.statement_timeout_s)


class Sources(BaseModel):
    model_config = _STRICT
    git: GitSource | None = None
    github: GitHubSource | None = None
    rss: RssSource | None = None
    sql: SqlSource | None = None

    def names(self) -> list[str]:
        return [name for name in ("git", "github", "rss", "sql") if getattr(self, name) is not None]


class TeamDelivery(BaseModel):
    """Where a fan-out job's artifacts go: each team's own channel and members, from the database."""

    model_config = _STRICT
    slack_conn_id: str | None = "slack_default"  # posts to the team's `slack_channel`; None: never
    smtp_conn_id: str | None = "smtp_default"  # mails the team's `email_list` and member previews
    # Each member of the team gets the artifact's first line by email (as the seed's notifier does).
    member_preview: bool = True


class FanOut(BaseModel):
    """How a fan-out job's teams are grouped into Airflow tasks. chunk_size 1 (the default): one
    mapped summarize -> validate -> deliver per team. Above 1: one mapped chain per chunk of that
    many teams, whose summarize runs the chunk's agents concurrently (`concurrency` threads), so
    Airflow's per-task overhead is paid once per chunk (operators/team_chunk.py). A kind's steps
    between validate and deliver (apply's writes, publish's PDF) run a chunk at a time too; a
    person's review (reconciliation's `review.enabled`) does not, so a spec with it on takes no
    chunks.

    `chunks` instead of `chunk_size`: each run splits its due teams into that many chunks (the
    size is worked out per run, from the teams due). Set it to the LLM pool's slots: every slot
    then carries one chunk for the whole run, with no chunk boundary to pay in between (a chunk's
    last answer and the next task's start-up leave the model idle: bench/fanout_throughput.py).
    A task cannot read a pool's slots (Airflow 3's task runtime has no pool API) and a DAG file
    does no I/O, so the spec says it."""

    model_config = _STRICT
    chunk_size: Count = Field(1, ge=1, le=1000)
    chunks: Count | None = Field(None, ge=1, le=256)
    concurrency: Count = Field(4, ge=1, le=64)  # a chunk's model calls at once (the pool counts one)

    @model_validator(mode="after")
    def _one_way(self) -> "FanOut":
        if self.chunks is not None and self.chunk_size > 1:
            raise ValueError(
                "give fan_out.chunks (how many chunk tasks a run has: the pool's slots) or "
                "fan_out.chunk_size (how many teams a chunk holds), not both"
            )
        return self

    @property
    def chunked(self) -> bool:
        return self.chunk_size > 1 or self.chunks is not None

    def size_for(self, teams: int) -> int:
        """Teams a chunk holds in a run serving `teams` teams."""
        if self.chunks is None:
            return self.chunk_size
        return max(1, math.ceil(teams / self.chunks))

    def layout_for(self, teams: int, requests_per_minute: float | None) -> "ChunkLayout":
        """How a run serving `teams` teams is chunked when its LLM connection's rate limiter
        admits `requests_per_minute` (None: no limiter, the spec's chunks as they are).

        With `chunks` and a limiter, a run makes no more chunks than the limit keeps busy: a
        chunk holds at least MIN_CHUNK_MINUTES of the limit's calls, unless the limit is more
        than CHUNK_REQUESTS_PER_MINUTE a chunk could carry. A merged chunk runs the calls of
        the chunks it stands for at once (`concurrency` times as many), so the run keeps the
        calls in flight the spec asked for, in fewer task processes. Why: every chunk is a task
        process whose start-up, last answer and limiter waits cost the model's time, and on a
        loaded worker more processes make calls reach the endpoint less evenly (429s); at 60
        requests/min two chunks of 100 teams carried 0.93 of the limit where sixteen of 13
        carried 0.79 (bench/fanout_throughput.py). `chunk_size` is never merged."""
        size = self.size_for(teams)
        if self.chunks is None or not requests_per_minute or teams <= 0:
            return ChunkLayout(size=size, concurrency=self.concurrency)
        wanted = min(self.chunks, math.ceil(teams / size))
        busy = max(
            math.ceil(teams / max(1.0, requests_per_minute * MIN_CHUNK_MINUTES)),
            math.ceil(requests_per_minute / CHUNK_REQUESTS_PER_MINUTE),
        )
        if busy >= wanted:
            return ChunkLayout(size=size, concurrency=self.concurrency)
        return ChunkLayout(
            size=math.ceil(teams / busy),
            concurrency=math.ceil(self.concurrency * wanted / busy),
            merged_from=wanted,
        )


# FanOut.layout_for: a chunk holds at least this many minutes of its connection's rate limit,
# and carries up to this many requests a minute (a call's own work in the task process is tens
# of milliseconds; above that the limit keeps more processes busy).
MIN_CHUNK_MINUTES = 2.0
CHUNK_REQUESTS_PER_MINUTE = 60.0


class ChunkLayout(NamedTuple):  # a NamedTuple: see BrokenSpec below on why not a dataclass
    """A run's chunks: teams a chunk holds, calls it makes at once, and the chunks the spec
    asked for when fewer were made (None: as asked)."""

    size: int
    concurrency: int
    merged_from: int | None = None


def _allow_entry(value: str) -> str:
    """An address (`team@example.org`) or a whole domain (`example.org`, `@example.org`)."""
    domain = value[1:] if value.startswith("@") else value
    if "@" in domain:
        return _email_address(value)
    _email_address(f"x@{domain}")  # the same domain rules as an address's
    if "." not in domain:
        raise ValueError(f"{value!r} is not a domain; write one like example.org or an address")
    return value


class PiiReview(BaseModel):
    """A digest's review before delivery: a detector of personal data (and optionally an agent)
    blocks every channel and alerts when digest.md would send an email, phone, card or IBAN."""

    model_config = _STRICT
    enabled: bool = False
    agent: bool = False  # also have the read-only review agent (skill below) read the digest
    # Addresses and domains the digest may name (the project's own public ones): no finding.
    allow: list[Annotated[str, AfterValidator(_allow_entry)]] = Field(default_factory=list)
    skill: str = "pii-review"

    @field_validator("skill")
    @classmethod
    def _skill_name(cls, value: str) -> str:
        if not SKILL_NAME_RE.fullmatch(value):
            raise ValueError(
                f"{value!r} is not a skill name; name a folder of the skills folder (pii-review)"
            )
        return value


def alert_kwargs(
    alert: ChannelSpec, title: str, timezone: str = "UTC", period_days: int = 1, *, as_data: bool = True
) -> dict[str, Any]:
    """JobAlertNotifier's arguments for one alert channel: plain data (a deadline callback stores
    them), or with `as_data` False the channel model itself (a notifier built at parse then takes
    it as it is: dumping it and validating the dump again cost a parse ~1 ms)."""
    return {
        "channel": alert.model_dump(mode="json") if as_data else alert,
        "job_title": title,
        "timezone": timezone,
        "period_days": period_days,
    }


def _section_defaults() -> Any:
    """The Field of a spec section whose keys all have defaults, for a spec that leaves it out:
    `{}` validated by the spec's own validator, which holds the section's model. A
    `default_factory=Model` would make it with the model class's own validator instead, which
    pydantic builds on its first use: ~0.3-0.6 ms for each such model on every DAG parse."""
    return Field(default_factory=dict, validate_default=True)


class JobSpec(BaseModel):
    model_config = _STRICT
    dag_id: str
    # What the job is (agentjobs.jobs.kinds.registry): `digest` when absent, so older specs keep
    # working. The kind's own section is the top-level key named after it (`weekly_insights:`),
    # validated by the kind's model (see _with_kind): no kind is listed here.
    kind: str = DIGEST_KIND
    title: OneLine = Field(min_length=1)
    description: str = ""
    # cron (5 fields or an Airflow preset like @daily), in `timezone`; absent: the kind's own schedule.
    schedule: str = "0 3 * * *"
    timezone: str = "UTC"
    start_date: date
    catchup: bool = True
    period_days: Count = Field(1, ge=1, le=366)  # how many days before the logical date the job covers
    skill: str  # a folder name in the skills folder, never a path
    # None: the skill's own mode. `batch` (fan-out kinds): every due team's structured request in
    # one OpenAI Batch API file, half the price, answered within 24 h (operators/team_batch.py).
    mode: Literal["loop", "structured", "batch"] | None = None
    llm_conn_id: str = "agentjobs_llm_default"
    # LLM connections asked in order when the primary fails in a way another endpoint may not
    # (unreachable, 5xx, a 429 its waits do not clear, a timeout); each with its own model.
    fallback_conn_ids: list[str] = Field(default_factory=list)
    model: str | None = None
    caps: Caps = Field(default_factory=Caps)
    allow_empty: bool = False
    commits_cap: Count = Field(30, ge=1, le=10_000)  # past this, the digest says "+N more"
    highlights_max: Count = Field(5, ge=0, le=100)
    # The digest's sections, in this order: a feeds-only newsletter has no commits to list.
    sections: list[Literal["commits", "highlights", "actions"]] = Field(
        default_factory=lambda: ["commits", "highlights", "actions"], min_length=1
    )
    sources: Sources
    channels: list[Channel] = Field(default_factory=list)
    pii_review: PiiReview = _section_defaults()  # a digest's check before delivery
    ledger_conn_id: str | None = None  # None: a SQLite file in $AIRFLOW_HOME
    alert: AlertChannel | None = None  # where failures go
    # A run not finished this many minutes after it was queued pages the alert channel.
    deadline_minutes: Count | None = Field(None, gt=0, le=7 * 24 * 60)  # a week at most
    # Fan-out kinds: the most teams one run is expected to serve. The run's dagrun_timeout is
    # sized for that many teams, one after another (operators/factory.py); a digest ignores it.
    max_teams_per_run: Count = Field(10, ge=1, le=10_000)
    fan_out: FanOut = _section_defaults()  # fan-out kinds: teams per task, and calls at once
    pool: str | None = None  # e.g. "agentjobs_llm": caps LLM concurrency across jobs (create the pool first)
    # Transient failures (429, 5xx, timeouts, a killed worker) retry after retry_delay_s, doubled
    # on each further try (Airflow's exponential backoff); permanent ones never retry.
    retries: Count = Field(1, ge=0, le=10)  # the seed's backoffLimit: 1
    retry_delay_s: float = Field(120, gt=0, le=86_400)
    tags: list[str] = Field(default_factory=list)
    # Fan-out kinds: where each team's artifact goes.
    team_delivery: TeamDelivery = _section_defaults()
    # The kind's section as written (None: absent), and as its model validated it (None: the kind
    # has no section model). Private: set by _with_kind, written back by _with_section.
    _section: Any = PrivateAttr(default=None)
    _settings: Any = PrivateAttr(default=None)

    @property
    def fans_out(self) -> bool:
        """A job run once per team of the business database (a kind implementing FanOutKind)."""
        from agentjobs.jobs.kinds.base import FanOutKind
        from agentjobs.jobs.kinds.registry import declares, kind

        return declares(kind(self.kind), FanOutKind)

    def kind_settings(self) -> Any:
        """The kind's section, validated (defaults where the spec has none); None for the digest."""
        return self._settings

    def kind_section(self) -> dict[str, Any]:
        """The kind's section as the spec writes it ({} when absent)."""
        return dict(self._section or {})

    def with_kind_section(self, section: dict[str, Any]) -> "JobSpec":
        """This spec with another section for its kind, validated as a spec file's would be."""
        return type(self).model_validate({**self.model_dump(), self.kind: section})

    @model_validator(mode="wrap")
    @classmethod
    def _with_kind(cls, data: Any, handler: ModelWrapValidatorHandler["JobSpec"]) -> "JobSpec":
        """The spec's kind (registry), its default schedule and its section, validated by the
        kind's own model. A kind that does not load breaks only the specs that name it."""
        if not isinstance(data, dict) or not isinstance(data.get("kind", DIGEST_KIND), str):
            return handler(data)  # a JobSpec already, or `kind` of the wrong type: the field says so
        name = data.get("kind", DIGEST_KIND)
        kind = _registered_kind(name, cls.model_fields)
        section = data.get(name)
        rest = {key: value for key, value in data.items() if key != name}
        strays = [key for key in rest if key not in cls.model_fields and _is_kind_name(key)]
        for key in strays:
            del rest[key]
        if rest.get("schedule") is None:
            rest["schedule"] = kind.default_schedule
        spec = handler(rest)  # every field valid first, as pydantic reports them all at once
        if strays:
            other = strays[0]
            raise KindMismatch(
                other,
                f"a section for kind {other!r}, but this job's kind is {name!r}; "
                f"remove it or set kind: {other}",
            )
        spec._section = section
        check_kind(spec, kind)
        spec._settings = _validated_section(kind, section, spec.schedule, spec.timezone)
        if spec.fan_out.chunked:  # after the section: whether a review runs is the kind's setting
            _check_chunkable(spec, kind)
        if spec.pii_review.enabled and name != DIGEST_KIND:
            raise KindMismatch("pii_review", f"pii_review reviews a digest; kind {name!r} has none")
        if spec.mode == "batch" and not spec.fans_out:
            raise KindMismatch(
                "mode",
                f"mode: batch sends one request per team through the Batch API; kind {name!r} makes "
                "one call a run, not one a team: use mode: structured or loop",
            )
        return spec

    @model_serializer(mode="wrap")
    def _with_section(self, handler: SerializerFunctionWrapHandler, info: SerializationInfo) -> Any:
        """The kind's section back under the kind's name, so a dumped spec validates again."""
        data = handler(self)
        if isinstance(data, dict) and (self._section is not None or self._settings is not None):
            data[self.kind] = self._section if info.mode == "python" else to_jsonable_python(self._section)
        return data

    def alert_kwargs(self, *, as_data: bool = True) -> dict[str, Any]:
        """JobAlertNotifier's arguments for this job's alert channel (which must be set)."""
        if self.alert is None:
            raise ValueError(f"job {self.dag_id!r} has no alert channel")
        kwargs = alert_kwargs(self.alert, self.title, self.timezone, self.period_days, as_data=False)
        if as_data:  # through the spec's serializer, built with it: the channel model's own is built
            # on its first use, which cost a DAG parse (a deadline's kwargs) ~0.5 ms a channel type
            kwargs["channel"] = self.model_dump(mode="json", include={"alert"})["alert"]
        return kwargs

    @field_validator("sections")
    @classmethod
    def _sections_once(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError(f"each section once, got {value}; choose from commits, highlights, actions")
        return value

    @model_validator(mode="after")
    def _fallbacks_distinct(self) -> "JobSpec":
        named = [self.llm_conn_id, *self.fallback_conn_ids]
        repeated = sorted({conn for conn in named if named.count(conn) > 1})
        if repeated:
            raise ValueError(
                f"fallback_conn_ids repeats {repeated}: list each LLM connection once, the primary "
                "(llm_conn_id) not among its fallbacks"
            )
        if any(not conn.strip() for conn in self.fallback_conn_ids):
            raise ValueError("fallback_conn_ids holds an empty connection id; name an LLM connection")
        return self

    @field_validator("dag_id")
    @classmethod
    def _safe_dag_id(cls, value: str) -> str:
        return check_dag_id(value)

    @field_validator("skill")
    @classmethod
    def _skill_name(cls, value: str) -> str:
        if not SKILL_NAME_RE.fullmatch(value):
            raise ValueError(
                f"{value!r} is not a skill name; name a folder of the skills folder with lower-case "
                "letters, digits and dashes (e.g. daily-digest), not a path"
            )
        return value

    @field_validator("schedule")
    @classmethod
    def _valid_cron(cls, value: str) -> str:
        check_schedule(value)
        return value

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        problem = zone_problem(value)
        if problem == "not in the tz database":
            raise ValueError(f"unknown time zone {value!r}; use an IANA name such as Europe/Berlin")
        if problem:
            raise ValueError(f"time zone {value!r} is {problem}; use an IANA name such as Europe/Berlin")
        return value

    @field_validator("sources")
    @classmethod
    def _some_source(cls, value: Sources) -> Sources:
        if not value.names():
            raise ValueError("name at least one source: git, github, rss (a digest) or sql (the other kinds)")
        return value


class KindMismatch(ValueError):
    """A spec field that does not fit the job's kind; `field` is where the fix goes."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _registered_kind(name: str, fields: dict[str, Any]) -> Any:
    """The kind called `name` (registry.kind), or KindMismatch on `kind` saying why it cannot be used."""
    from agentjobs.jobs.kinds.registry import KindError, kind

    if name in fields:  # its section would be one of every spec's own fields
        raise KindMismatch("kind", f"{name!r} cannot be a job kind: it is a field of every spec")
    try:
        return kind(name)
    except KindError as exc:
        raise KindMismatch("kind", str(exc)) from None


def _is_kind_name(key: str) -> bool:
    from agentjobs.jobs.kinds.registry import known

    return known(key)


def _validated_section(kind: Any, section: Any, schedule: str, timezone: str) -> Any:
    """The kind's section validated by its own model; KindMismatch names the first bad field.

    The model's validators get the job's schedule as context ({"schedule": 5 cron fields,
    "timezone"}): a kind whose timing depends on which hours run (weekly_insights' members) reads
    it there; the others ignore it."""
    if kind.settings_model is None:
        if section is not None:
            raise KindMismatch(kind.name, f"kind {kind.name!r} has no section of its own; remove it")
        return None
    context = {"schedule": CRON_PRESETS.get(schedule, schedule), "timezone": timezone}
    try:
        return kind.settings_model.model_validate({} if section is None else section, context=context)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join([kind.name, *(str(p) for p in first["loc"])])
        raise KindMismatch(where, _message(first)) from None


def check_kind(spec: JobSpec, kind: Any) -> None:
    """The parts of a spec that depend on its kind: the kind's own rules (capabilities.ChecksSpec);
    a fan-out's sources and channels."""
    from agentjobs.jobs.kinds.base import FanOutKind
    from agentjobs.jobs.kinds.capabilities import ChecksSpec
    from agentjobs.jobs.kinds.registry import declares

    if declares(kind, ChecksSpec):
        try:
            kind.check_spec(spec)
        except KindMismatch:
            raise
        except ValueError as exc:  # a kind's plain refusal: pinned on the kind's own section
            raise KindMismatch(kind.name, str(exc)) from None
    if not declares(kind, FanOutKind):
        return
    if spec.sources.sql is not None and spec.sources.sql.inputs:
        _check_inputs(spec.sources.sql.inputs, kind)
    if spec.sources.sql is not None and spec.sources.sql.writes:
        _check_writes(spec.sources.sql.writes, kind)
    digest_sources = [name for name in spec.sources.names() if name != "sql"]
    if digest_sources or spec.sources.sql is None:
        raise KindMismatch(
            "sources",
            f"kind {spec.kind!r} reads the business database: give exactly "
            "`sql: {conn_id: agentjobs_business}` (no git, github or rss)",
        )
    if spec.channels:
        raise KindMismatch(
            "channels",
            f"kind {spec.kind!r} delivers to each team's own slack_channel, "
            "email_list and members; set their connections under team_delivery",
        )


def _check_chunkable(spec: JobSpec, kind: Any) -> None:
    """Chunks take every step of a team's chain a chunk at a time (summarize, validate, apply,
    publish, deliver), but not a person's review: that is one HITL task per team, answered on its
    own (a review of a whole chunk would be another form to fill in). So a spec whose kind reviews
    (capabilities.Reviewed, with its review on) runs one team per task; with the review off it
    chunks like any other."""
    from agentjobs.jobs.kinds.capabilities import Reviewed
    from agentjobs.jobs.kinds.registry import declares

    if not declares(kind, Reviewed) or kind.review_timeout(spec.kind_settings()) is None:
        return
    given = "fan_out.chunks" if spec.fan_out.chunks is not None else "fan_out.chunk_size"
    setting = f"{kind.name}.{kind.review_setting}"
    raise KindMismatch(
        given,
        f"kind {spec.kind!r} asks a person to review each team's proposals ({setting} is on), one "
        f"review task per team, which chunks do not run: set {setting} to false to take chunks, "
        "or remove fan_out.chunk_size and fan_out.chunks for this job",
    )


def _check_inputs(mapping: dict[str, InputMapping], kind: Any) -> None:
    """A mapped input the kind reads, with binds it gives (jobs/inputs.py); else KindMismatch there."""
    from agentjobs.jobs.inputs import SOURCE_INPUTS, InputMappingError, check_mapping, kind_inputs

    for name, target in mapping.items():
        try:
            check_mapping([*SOURCE_INPUTS, *kind_inputs(kind)], {name: target}, f"kind {kind.name!r}")
        except InputMappingError as exc:
            raise KindMismatch(f"sources.sql.inputs.{name}", str(exc)) from None


def _check_writes(mapping: dict[str, WriteMapping], kind: Any) -> None:
    """A mapped write target the kind writes, with its columns (jobs/writes.py); else KindMismatch."""
    from agentjobs.jobs.writes import WriteMappingError, check_write_mapping, kind_writes

    for name, target in mapping.items():
        try:
            check_write_mapping(kind_writes(kind), {name: target}, f"kind {kind.name!r}")
        except WriteMappingError as exc:
            raise KindMismatch(f"sources.sql.writes.{name}", str(exc)) from None


# Airflow's presets (airflow.sdk.definitions.timetables._cron.CRON_PRESETS), copied so the
# domain needs no Airflow; tests/jobs/test_spec.py fails if the two drift apart.
CRON_PRESETS: dict[str, str] = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@quarterly": "0 0 1 */3 *",
    "@yearly": "0 0 1 1 *",
}


# croniter's `R`, `R(10-20)`, `R/15` (any case) draws a new value each time the expression is
# read: the scheduler and every DAG parse would each compute a different next run.
_RANDOM_CRON_FIELD = re.compile(r"r(?:\(\d+-\d+\))?(?:/\d+)?", re.IGNORECASE)


# Schedules already found good in this process: croniter parses an expression in ~0.5 ms, and
# a DAG parse checks each spec's schedule (most jobs share a handful of them).
_GOOD_SCHEDULES: set[str] = set()


def check_schedule(expression: str) -> None:
    """Refuse what Airflow's timetable or croniter would refuse later, and crons that never fire.

    Airflow's CronTriggerTimetable validates with croniter (it resolves the presets above, then
    calls croniter(expression)); the same library here gives the same verdicts without Airflow.
    """
    if expression in _GOOD_SCHEDULES:
        return
    from croniter import croniter

    fix = "write 5 cron fields like '0 3 * * *' or a preset like @daily"
    resolved = CRON_PRESETS.get(expression, expression)
    try:
        # One parse serves both checks: the start only matters to get_next below.
        walk = croniter(resolved, datetime(2026, 1, 1))
    except Exception as exc:  # CroniterBadCronError / CroniterBadDateError; any other is as fatal
        raise ValueError(f"{expression!r} is not a valid cron schedule ({exc}); {fix}") from None
    if len(resolved.split()) != 5:
        raise ValueError(f"{expression!r} is not a 5-field cron schedule (seconds are not supported); {fix}")
    if any(_RANDOM_CRON_FIELD.fullmatch(field) for field in resolved.split()):
        raise ValueError(
            f"{expression!r} has a random field (croniter's R): the run time would change each time "
            "the schedule is read; write the minute and hour themselves, e.g. '17 3 * * *'"
        )
    try:
        walk.get_next(datetime)
    except Exception:  # CroniterBadDateError: e.g. '0 0 31 2 *', February 31st
        raise ValueError(f"{expression!r} never fires (no such date); {fix}") from None
    _GOOD_SCHEDULES.add(expression)


def _field_path(loc: tuple[object, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(top level)"


def _error_field(error: Any) -> str:
    """Where the error is; a kind mismatch (raised by the whole-spec check) names its own field."""
    raised = error.get("ctx", {}).get("error")
    return raised.field if isinstance(raised, KindMismatch) else _field_path(error["loc"])


def _message(error: Any) -> str:
    """pydantic's message, without the 'Value error, ' prefix it puts before our own messages."""
    if error["type"] == "value_error" and "error" in error.get("ctx", {}):
        return str(error["ctx"]["error"])
    return str(error["msg"])


def _one_line_error(text: str) -> str:
    return " ".join(text.split())


def load_spec(path: Path) -> JobSpec:
    try:
        raw = load_unique(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise JobSpecError(f"{path}: cannot read the spec ({exc}); save it as UTF-8 text") from None
    except (DuplicateKeyError, NoSuchDayError) as exc:
        raise JobSpecError(f"{path}: invalid job spec: {exc}") from None
    except yaml.YAMLError as exc:
        raise JobSpecError(f"{path}: not valid YAML: {_one_line_error(str(exc))}") from None
    if not isinstance(raw, dict):
        raise JobSpecError(f"{path}: a job spec is a YAML mapping (dag_id, title, skill, sources, ...)")
    try:
        return JobSpec.model_validate(raw, context={WRITTEN_IN_A_FILE: True})
    except ValidationError as exc:
        problems = [f"field '{_error_field(e)}': {_loaded_message(e)}" for e in exc.errors(include_url=False)]
        raise JobSpecError(f"{path}: invalid job spec: " + "; ".join(problems)) from None


# What a required field that is absent should hold, where pydantic says only "Field required".
_MISSING = {
    "skill": (
        "missing; every job's agent follows a skill: name its folder in the skills folder "
        "(include/skills/), e.g. skill: daily-digest"
    ),
}


def _loaded_message(error: Any) -> str:
    if error["type"] == "missing":
        return _MISSING.get(_error_field(error), _message(error))
    return _message(error)


# A NamedTuple, not a frozen dataclass: every DAG parse imports this module, and defining a frozen
# dataclass compiles six methods (~0.4 ms a class, bench/dag_parse.py); a NamedTuple ~0.06 ms.
class BrokenSpec(NamedTuple):
    """A spec that did not load: its job is left out (the other jobs are not), and this says why.

    What could be read of it anyway (its dag_id, alert channel and ledger) lets the health
    check alert the job's own channel and name the job.
    """

    path: Path
    error: str  # one line naming the file, the field and the fix
    dag_id: str | None = None  # as written, when it is a usable dag_id
    alert: ChannelSpec | None = None  # the spec's alert channel, when that part is valid
    ledger_conn_id: str | None = None

    @property
    def job(self) -> str:
        """How alerts and the ledger name it: its dag_id, else its file name."""
        return self.dag_id or self.path.name


def _salvage(path: Path, error: str) -> BrokenSpec:
    """The parts of a broken spec that are valid on their own."""
    try:
        # A spec with a key given twice yields nothing: which of the two alerts is meant is unknown.
        raw = load_unique(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        raw = None
    if not isinstance(raw, dict):
        return BrokenSpec(path, error)
    dag_id = raw.get("dag_id")
    try:
        usable_id = check_dag_id(dag_id) if isinstance(dag_id, str) else None
    except ValueError:
        usable_id = None
    try:
        alert = alert_channel_of(raw.get("alert"))
    except ValidationError:
        alert = None
    ledger = raw.get("ledger_conn_id")
    return BrokenSpec(path, error, usable_id, alert, ledger if isinstance(ledger, str) else None)


def load_folder(folder: Path) -> tuple[dict[Path, JobSpec], list[BrokenSpec]]:
    """Every *.yaml spec in `folder`, sorted by file name, split into the good and the broken.

    One broken spec must not take the other jobs down with it. A dag_id used twice keeps the
    first file (by name) and marks the later ones broken.
    """
    loaded: dict[Path, JobSpec] = {}
    broken: list[BrokenSpec] = []
    owners: dict[str, Path] = {}
    for path in sorted(folder.glob("*.yaml")):
        try:
            spec = load_spec(path)
        except JobSpecError as exc:
            broken.append(_salvage(path, str(exc)))
            continue
        owner = owners.setdefault(spec.dag_id, path)
        if owner != path:
            error = (
                f"{path}: invalid job spec: field 'dag_id': {spec.dag_id!r} is already the dag_id of "
                f"{owner.name}; give this job its own dag_id"
            )
            broken.append(BrokenSpec(path, error, None, spec.alert, spec.ledger_conn_id))
            continue
        loaded[path] = spec
    return loaded, broken


def load_specs(folder: Path) -> list[JobSpec]:
    """Every spec of `folder`, all or nothing: the first broken one (by file name) raises."""
    loaded, broken = load_folder(folder)
    if broken:
        raise JobSpecError(broken[0].error)
    return list(loaded.values())
