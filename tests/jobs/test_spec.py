"""The job spec's validation: defaults, errors naming the file, the field and the fix, shipped specs."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from agentjobs.jobs.spec import JobSpec, JobSpecError, load_spec, load_specs
from tests.jobs.specs import SHIPPED

REPO = Path(__file__).resolve().parents[2]


# --- job spec -----------------------------------------------------------------------------

VALID = {
    "dag_id": "team_digest",
    "title": "Team digest",
    "start_date": "2026-11-01",
    "skill": "daily-digest",
    "sources": {"github": {"repos": ["acme/app"]}},
}


def write_spec(folder: Path, data: object, name: str = "job.yaml") -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def email_with(subject: str) -> dict:
    return {"type": "email", "to": ["team@example.org"], "subject": subject}


def without(key: str) -> dict:
    return {k: v for k, v in VALID.items() if k != key}


def test_a_minimal_spec_loads_with_its_defaults(tmp_path):
    spec = load_spec(write_spec(tmp_path, VALID))
    assert isinstance(spec, JobSpec)
    assert (spec.dag_id, spec.timezone, spec.schedule, spec.period_days) == (
        "team_digest",
        "UTC",
        "0 3 * * *",
        1,
    )
    assert spec.start_date == date(2026, 11, 1)
    assert spec.sources.names() == ["github"]


@pytest.mark.parametrize(
    ("data", "field", "says"),
    [
        ({**VALID, "shedule": "0 4 * * *"}, "shedule", "Extra inputs are not permitted"),
        ({**VALID, "caps": {"max_iteration": 3}}, "caps.max_iteration", "Extra inputs are not permitted"),
        (
            without("skill"),
            "skill",
            "missing; every job's agent follows a skill: name its folder in the skills",
        ),
        (without("title"), "title", "Field required"),
        ({**VALID, "sources": {}}, "sources", "name at least one source"),
        ({**VALID, "sources": {"git": None, "github": None}}, "sources", "name at least one source"),
        ({**VALID, "timezone": "Europe/Berlinn"}, "timezone", "unknown time zone 'Europe/Berlinn'"),
        (
            {**VALID, "timezone": "localtime"},
            "timezone",
            "this machine's own zone, which differs between hosts",
        ),
        ({**VALID, "timezone": "right/UTC"}, "timezone", "a leap-second clock"),
        (
            {**VALID, "sources": {"github": {"repos": ["acme/app", "https://github.com/acme/lib"]}}},
            "sources.github.repos.1",
            "String should match pattern",
        ),
        ({**VALID, "sources": {"github": {"repos": ["acme"]}}}, "sources.github.repos.0", "should match"),
        (
            {**VALID, "channels": [{"type": "email", "to": ["a@example.org"]}, {"type": "teams"}]},
            "channels.1",
            "'teams'",
        ),
        ({**VALID, "alert": {"type": "s3", "bucket": "acme-reports"}}, "alert", "'s3'"),
        ({**VALID, "channels": [{"type": "email", "to": []}]}, "channels.0.email.to", "at least 1"),
        ({**VALID, "dag_id": "my digest"}, "dag_id", "not a usable dag_id"),
        ({**VALID, "commits_cap": 0}, "commits_cap", "greater than or equal to 1"),
        # A dag_id is also the folder of the job's files: no way out of the artifact base.
        ({**VALID, "dag_id": ".."}, "dag_id", "not '.' or '..' alone"),
        ({**VALID, "dag_id": "."}, "dag_id", "not '.' or '..' alone"),
        ({**VALID, "dag_id": "../escape"}, "dag_id", "no '/'"),
        ({**VALID, "dag_id": "a" * 251}, "dag_id", "1-250 letters"),
        ({**VALID, "dag_id": "agentjobs_health"}, "dag_id", "the health check's own DAG"),
        # A skill is a folder name in the skills folder, never a path.
        ({**VALID, "skill": "./planted"}, "skill", "not a skill name"),
        ({**VALID, "skill": "../skills/daily-digest"}, "skill", "not a path"),
        ({**VALID, "skill": "/tmp/evil"}, "skill", "not a skill name"),
        ({**VALID, "skill": "Daily-Digest"}, "skill", "lower-case"),
        # A trailing newline is not swallowed by a pattern's `$`: the whole value must fit.
        ({**VALID, "dag_id": "team_digest\n"}, "dag_id", "not a usable dag_id"),
        ({**VALID, "skill": "daily-digest\n"}, "skill", "not a skill name"),
        (
            {**VALID, "channels": [{"type": "email", "to": ["team@example.org\n"]}]},
            "channels.0.email.to.0",
            "not a plain email address",
        ),
        ({**VALID, "pii_review": {"allow": ["example.org\n"]}}, "pii_review.allow.0", "not a plain email"),
        (
            {**VALID, "sources": {"github": {"repos": ["acme/app\n"]}}},
            "sources.github.repos.0",
            "should match",  # pydantic's Rust regex: its `$` is the end of the text
        ),
        # Cron as Airflow's timetable reads it, at load and not at the first run.
        ({**VALID, "schedule": "every day"}, "schedule", "not a valid cron schedule"),
        ({**VALID, "schedule": "61 * * * *"}, "schedule", "out of range"),
        ({**VALID, "schedule": "0 0 31 2 *"}, "schedule", "never fires"),
        ({**VALID, "schedule": "* * * * * *"}, "schedule", "seconds are not supported"),
        # croniter's R draws a new minute each time the expression is read.
        ({**VALID, "schedule": "R 3 * * *"}, "schedule", "random field (croniter's R)"),
        ({**VALID, "schedule": "0 r(1-5) * * *"}, "schedule", "random field"),
        ({**VALID, "schedule": "R/15 * * * *"}, "schedule", "random field"),
        # Numbers: finite, and within bounds the message states.
        ({**VALID, "caps": {"timeout_s": float("inf")}}, "caps.timeout_s", "finite number"),
        ({**VALID, "caps": {"timeout_s": 90_000}}, "caps.timeout_s", "less than or equal to 86400"),
        ({**VALID, "caps": {"max_cost_usd": float("nan")}}, "caps.max_cost_usd", "finite number"),
        ({**VALID, "caps": {"max_iterations": 5000}}, "caps.max_iterations", "less than or equal to 1000"),
        ({**VALID, "retry_delay_s": float("inf")}, "retry_delay_s", "finite number"),
        ({**VALID, "period_days": 100_000}, "period_days", "less than or equal to 366"),
        ({**VALID, "deadline_minutes": 10**9}, "deadline_minutes", "less than or equal to 10080"),
        ({**VALID, "retries": True}, "retries", "valid integer"),
        # Email: no header injection, no placeholder that str.format would evaluate or fail on.
        (
            {**VALID, "channels": [{"type": "email", "to": ["team@example.org\r\nBcc: all@example.org"]}]},
            "channels.0.email.to.0",
            "not a plain email address",
        ),
        ({**VALID, "channels": [{"type": "email", "to": ["team"]}]}, "channels.0.email.to.0", "plain email"),
        (
            {**VALID, "alert": {"type": "email", "to": ["Ada <ada@example.org>"]}},
            "alert.email.to.0",
            "no display name",
        ),
        ({**VALID, "channels": [email_with("{0}")]}, "channels.0.email.subject", "placeholder {0}"),
        ({**VALID, "channels": [email_with("{}")]}, "channels.0.email.subject", "placeholder {}"),
        (
            {**VALID, "channels": [email_with("{title.__class__}")]},
            "channels.0.email.subject",
            "placeholder {title.__class__} is not allowed; use only {title}, {day}",
        ),
        ({**VALID, "channels": [email_with("{day[0]}")]}, "channels.0.email.subject", "placeholder {day[0]}"),
        ({**VALID, "channels": [email_with("{title!r}")]}, "channels.0.email.subject", "{title!r}"),
        ({**VALID, "channels": [email_with("{title:{day}}")]}, "channels.0.email.subject", "{title:{day}}"),
        ({**VALID, "channels": [email_with("{date}")]}, "channels.0.email.subject", "placeholder {date}"),
        ({**VALID, "channels": [email_with("Digest {")]}, "channels.0.email.subject", "not a valid template"),
        (
            {**VALID, "channels": [email_with("Digest\r\nBcc: all@example.org")]},
            "channels.0.email.subject",
            "no CR, LF",
        ),
        ({**VALID, "title": "Digest\nBcc: x"}, "title", "must be one line"),
    ],
)
def test_an_invalid_spec_names_the_file_and_the_field(tmp_path, data, field, says):
    path = write_spec(tmp_path, data, name="broken-job.yaml")
    with pytest.raises(JobSpecError) as caught:
        load_spec(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: invalid job spec: ")
    assert f"field '{field}': " in message
    assert says in message


def test_a_subject_with_the_documented_placeholders_and_braces_loads(tmp_path):
    channel = email_with("{{weekly}} {title} for {day}")
    spec = load_spec(write_spec(tmp_path, {**VALID, "channels": [channel], "schedule": "@weekly"}))
    assert spec.channels[0].subject.format(title="T", day="2026-11-24") == "{weekly} T for 2026-11-24"


def test_a_planted_skill_beside_the_working_folder_is_not_reachable_from_a_spec(tmp_path, monkeypatch):
    # The attack: a SKILL.md granting every write, planted where a relative path would find it.
    planted = tmp_path / "planted"
    planted.mkdir()
    frontmatter = "name: planted\ndescription: x\nwrite_allowlist: ['*']"
    (planted / "SKILL.md").write_text(f"---\n{frontmatter}\n---\nDo.\n")
    monkeypatch.chdir(tmp_path)
    for skill in ("planted/", "./planted", str(planted), "planted/SKILL.md"):
        with pytest.raises(JobSpecError, match=r"field 'skill': .*not a skill name"):
            load_spec(write_spec(tmp_path, {**VALID, "skill": skill}))


def test_every_problem_of_a_spec_is_reported_at_once(tmp_path):
    path = write_spec(tmp_path, {**without("skill"), "timezone": "Nowhere/Land", "colour": "blue"})
    with pytest.raises(JobSpecError) as caught:
        load_spec(path)
    for field in ("skill", "timezone", "colour"):
        assert f"field '{field}'" in str(caught.value)


def test_a_time_zone_that_is_a_region_folder_is_a_spec_error(tmp_path):
    path = write_spec(tmp_path, {**VALID, "timezone": "Europe"})
    with pytest.raises(JobSpecError, match=r"field 'timezone'"):
        load_spec(path)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("dag_id: [unclosed\n", "not valid YAML"),
        ("- just\n- a list\n", "a job spec is a YAML mapping"),
        ("", "a job spec is a YAML mapping"),
        # YAML reads 2026-02-30 as a date and Python refuses it: a spec error, not a ValueError.
        ("dag_id: x\nstart_date: 2026-02-30\n", "line 2: '2026-02-30' is no such day"),
    ],
)
def test_a_spec_that_is_not_a_mapping_names_the_file(tmp_path, text, says):
    path = tmp_path / "odd.yaml"
    path.write_text(text)
    with pytest.raises(JobSpecError) as caught:
        load_spec(path)
    assert str(caught.value).startswith(f"{path}: ") and says in str(caught.value)


# A reviewer reads the first `caps:` and `channels:`; YAML would keep the second ones.
SECOND_CAP = """\
dag_id: team_digest
title: Team digest
start_date: 2026-11-01
skill: daily-digest
sources: {github: {repos: [acme/app]}}
caps:
  max_cost_usd: 1
  timeout_s: 600
  max_cost_usd: 500
alert: {type: email, to: [ops@example.org]}
"""
SECOND_CHANNELS = SECOND_CAP.replace("  max_cost_usd: 500\n", "") + (
    "channels:\n  - {type: email, to: [team@example.org]}\n"
    "tags: [daily]\n"
    "channels:\n  - {type: email, to: [someone@elsewhere.example]}\n"
)


@pytest.mark.parametrize(
    ("text", "key", "lines"),
    [
        (SECOND_CAP, "max_cost_usd", (7, 9)),
        (SECOND_CHANNELS, "channels", (10, 13)),
        ("dag_id: a\ntitle: T\ndag_id: b\n", "dag_id", (1, 3)),
        ("alert: {type: email, to: [a@example.org], to: [b@example.org]}\n", "to", (1, 1)),
    ],
)
def test_a_key_given_twice_is_refused_naming_the_file_the_key_and_both_lines(tmp_path, text, key, lines):
    path = tmp_path / "job.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(JobSpecError) as caught:
        load_spec(path)
    assert str(caught.value) == (
        f"{path}: invalid job spec: key {key!r} is given twice, on line {lines[0]} and on line {lines[1]} "
        "(YAML would silently keep the last); keep one of them"
    )


def test_a_yaml_merge_may_still_override_a_key_it_brings(tmp_path):
    path = tmp_path / "job.yaml"
    merged = "caps:\n  <<: {max_cost_usd: 1, timeout_s: 600}\n  max_cost_usd: 2\n"
    path.write_text(yaml.safe_dump(VALID) + merged, encoding="utf-8")
    assert load_spec(path).caps.max_cost_usd == 2


def test_a_spec_with_a_key_given_twice_is_broken_and_nothing_of_it_is_trusted(tmp_path):
    from agentjobs.jobs.spec import load_folder

    path = tmp_path / "job.yaml"
    path.write_text(SECOND_CAP + "alert: {type: email, to: [elsewhere@example.net]}\n", encoding="utf-8")
    loaded, broken = load_folder(tmp_path)
    assert loaded == {} and [b.path for b in broken] == [path]
    assert "key 'alert' is given twice" in broken[0].error
    assert broken[0].alert is None  # which of the two alert channels is meant is not known


def test_load_specs_rejects_a_dag_id_used_twice(tmp_path):
    write_spec(tmp_path, VALID, name="a.yaml")
    write_spec(tmp_path, {**VALID, "title": "Copy"}, name="b.yaml")
    write_spec(tmp_path, {**VALID, "dag_id": "other"}, name="c.yaml")
    with pytest.raises(JobSpecError) as caught:
        load_specs(tmp_path)
    assert str(caught.value) == (
        f"{tmp_path / 'b.yaml'}: invalid job spec: field 'dag_id': 'team_digest' is already the dag_id "
        "of a.yaml; give this job its own dag_id"
    )


def test_load_specs_reads_yaml_files_sorted_by_name(tmp_path):
    write_spec(tmp_path, {**VALID, "dag_id": "second"}, name="b.yaml")
    write_spec(tmp_path, {**VALID, "dag_id": "first"}, name="a.yaml")
    (tmp_path / "notes.txt").write_text("not a spec")
    assert [s.dag_id for s in load_specs(tmp_path)] == ["first", "second"]


def test_load_specs_names_the_broken_file(tmp_path):
    write_spec(tmp_path, VALID, name="a.yaml")
    broken = write_spec(tmp_path, without("title"), name="b.yaml")
    with pytest.raises(JobSpecError, match=rf"^{broken}: invalid job spec: field 'title'"):
        load_specs(tmp_path)


def test_the_shipped_job_specs_load():
    specs = {s.dag_id: s for s in load_specs(REPO / "include" / "jobs")}
    assert set(specs) == SHIPPED
    for spec in specs.values():
        assert (REPO / "include" / "skills" / spec.skill / "SKILL.md").is_file(), spec.skill
        ZoneInfo(spec.timezone)
    daily = specs["daily_digest"]
    assert daily.timezone == "Europe/Berlin" and daily.period_days == 1
    assert daily.sources.names() == ["git", "github", "rss"]
    assert [c.type for c in daily.channels] == ["email", "slack", "s3"]
    assert daily.alert is not None and daily.alert.type == "slack"
    assert specs["weekly_newsletter"].period_days == 7


# --- cron: Airflow's verdicts without importing Airflow ------------------------------------

CRONS = [
    "@daily", "@weekly", "@quarterly", "0 3 * * *", "*/15 * * * 1-5", "0 9 * * sun", "0 0 L * *",
    "every day", "61 * * * *", "0 25 * * *", "0 0 0 * *", "* * * *", "0 0 * * 8", "@fortnightly",
    "0 0 31 2 *", "* * * * * *", "R 3 * * *", "H 3 * * *",
]  # fmt: skip


def test_the_presets_are_airflows():
    from airflow.sdk.definitions.timetables._cron import CRON_PRESETS as AIRFLOW_PRESETS

    from agentjobs.jobs.spec import CRON_PRESETS

    assert CRON_PRESETS == AIRFLOW_PRESETS


@pytest.mark.parametrize("expression", CRONS)
def test_a_cron_airflow_refuses_is_refused_at_load_and_only_then(expression):
    from airflow.sdk import CronTriggerTimetable

    from agentjobs.jobs.spec import check_schedule

    try:
        CronTriggerTimetable(expression, timezone="UTC").validate()
        airflow_accepts = True
    except Exception:
        airflow_accepts = False
    try:
        check_schedule(expression)
        verdict = "ok"
    except ValueError as exc:
        verdict = str(exc)
    assert ("not a valid cron schedule" not in verdict) == airflow_accepts, verdict


def test_fallback_connections_are_listed_once_and_never_the_primary():
    from tests.jobs.specs import digest_spec

    feeds = {"rss": {"feeds": ["https://example.org/feed.xml"]}}

    spec = digest_spec("fallbacks", "llm_main", fallback_conn_ids=["llm_backup", "llm_local"], sources=feeds)
    assert spec.fallback_conn_ids == ["llm_backup", "llm_local"]
    assert digest_spec("no_fallbacks", "llm_main", sources=feeds).fallback_conn_ids == []
    with pytest.raises(
        ValueError, match=r"fallback_conn_ids repeats \['llm_main'\].*not among its fallbacks"
    ):
        digest_spec("same", "llm_main", fallback_conn_ids=["llm_main"], sources=feeds)
    with pytest.raises(ValueError, match="empty connection id"):
        digest_spec("blank", "llm_main", fallback_conn_ids=[" "], sources=feeds)
