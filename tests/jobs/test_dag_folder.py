"""The dags/ folder as the DAG processor sees it: the shipped jobs parse, bad specs fail loudly."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from agentjobs.jobs.kinds.registry import FAN_OUT_KINDS
from tests.conftest import REPO
from tests.jobs.specs import SHIPPED

pytestmark = pytest.mark.airflow


def dagbag(folder: Path):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(folder))


def test_the_shipped_jobs_parse_into_dags(airflow_db):
    bag = dagbag(REPO / "dags")
    assert bag.import_errors == {}
    assert set(bag.dag_ids) == {*SHIPPED, "agentjobs_health"}
    insights = bag.get_dag("weekly_insights")
    # The same shape for every fan-out kind: fetch, then one mapped task group per due team,
    # then the run's one failure alert.
    assert [t.task_id for t in insights.topological_sort()] == [
        "fetch",
        "team.summarize",
        "team.validate",
        "team.deliver",
        "alert_on_failure",
    ]
    assert type(insights.task_group_dict["team"]).__name__ == "MappedTaskGroup"
    assert (insights.timetable.expression, str(insights.timetable.timezone)) == ("0 * * * 0,1,6", "UTC")
    assert "teams" in insights.params
    # A kind that writes to the business database writes after the check, before the delivery.
    enrichment = [t.task_id for t in bag.get_dag("enrichment").topological_sort()]
    team_chain = ["fetch", "team.summarize", "team.validate", "team.apply", "team.deliver"]
    team_chain.append("alert_on_failure")
    assert enrichment == team_chain
    reconciliation = [t.task_id for t in bag.get_dag("reconciliation").topological_sort()]
    assert reconciliation == team_chain
    digest = bag.get_dag("daily_digest")
    assert [t.task_id for t in digest.topological_sort()][:3] == ["fetch_git", "fetch_github", "fetch_rss"]
    assert {t.task_id for t in digest.tasks} >= {"summarize", "validate", "deliver_email_0", "deliver_s3_2"}
    assert digest.max_active_runs == 1 and digest.catchup is True
    assert set(digest.params.keys()) == {
        "force_redeliver",
        "refetch",
        "resummarize",
        "caps",
    }
    caps = digest.params["caps"]
    assert caps["max_iterations"] == 40 and caps["max_cost_usd"] == 0.5
    # A triggered run names the caps it changes; a misspelt or impossible one is refused at once.
    caps_param = digest.params.get_param("caps")
    assert caps_param.resolve({"max_cost_usd": 1.5}) == {"max_cost_usd": 1.5}
    for bad in ({"max_iteration": 3}, {"max_cost_usd": "x"}, {"max_iterations": 0}):
        with pytest.raises(ValueError):
            caps_param.resolve(bad)
    assert (digest.timetable.expression, str(digest.timetable.timezone)) == ("0 3 * * *", "Europe/Berlin")
    newsletter = bag.get_dag("weekly_newsletter")
    assert {t.task_id for t in newsletter.tasks} == {
        "fetch_rss",
        "summarize",
        "validate",
        "deliver_email_0",
        "alert_on_failure",
    }
    # Every job's run ends in its one failure alert, after every other task.
    for dag_id in SHIPPED:
        dag = bag.get_dag(dag_id)
        last = dag.get_task("alert_on_failure")
        assert [t.task_id for t in dag.leaves] == ["alert_on_failure"] and last.trigger_rule == "all_done"


def project_with(tmp_path: Path, monkeypatch, edit=lambda text: text) -> Path:
    """A copy of the project's dags/ and include/jobs/, with daily-digest.yaml edited; returns dags/."""
    jobs = tmp_path / "include" / "jobs"
    jobs.mkdir(parents=True)
    for spec in (REPO / "include" / "jobs").glob("*.yaml"):
        shutil.copy(spec, jobs / spec.name)
    daily = jobs / "daily-digest.yaml"
    daily.write_text(edit(daily.read_text()))
    dags = tmp_path / "dags"
    dags.mkdir()
    for dag_file in (REPO / "dags").glob("*.py"):
        shutil.copy(dag_file, dags / dag_file.name)
    monkeypatch.setenv("AGENTJOBS_JOBS_DIR", str(jobs))
    return dags


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda text: text.replace("skill: daily-digest", "skil: daily-digest"), "field 'skil'"),
        (lambda text: text.replace("timezone: Europe/Berlin", "timezone: Mars/Olympus"), "unknown time zone"),
        (lambda text: text.replace("type: s3", "type: fax"), "field 'channels.2'"),
        (
            lambda text: text.replace("repos: [apache/airflow]", "repos: [not-a-repo]"),
            "sources.github.repos.0",
        ),
        (lambda text: text.replace("dag_id: daily_digest", "dag_id: '..'"), "field 'dag_id'"),
        (lambda text: text.replace("skill: daily-digest", "skill: ./planted"), "field 'skill'"),
        (lambda text: text.replace('schedule: "0 3 * * *"', "schedule: nightly"), "field 'schedule'"),
        (lambda text: text.replace("  timeout_s: 900", "  timeout_s: .inf"), "field 'caps.timeout_s'"),
        (
            lambda text: text.replace("to: [team@example.org]", "to: [team@example.org]\n    subject: '{0}'"),
            "field 'channels.0.email.subject'",
        ),
        (lambda text: text.replace("dag_id: daily_digest\n", ""), "field 'dag_id': Field required"),
        (lambda text: "dag_id: [unclosed\n" + text, "not valid YAML"),
        (lambda text: text.replace("start_date: 2026-11-01", "start_date: 2026-13-01"), "no such day"),
    ],
    ids=[
        "unknown-key",
        "bad-timezone",
        "bad-channel",
        "bad-repo",
        "dag-id-escapes",
        "skill-path",
        "bad-cron",
        "infinite-timeout",
        "positional-subject",
        "no-dag-id",
        "not-yaml",
        "no-such-day",
    ],
)
def test_a_bad_spec_leaves_out_only_its_own_job_and_is_an_import_error(
    airflow_db, tmp_path, monkeypatch, edit, message
):
    bag = dagbag(project_with(tmp_path, monkeypatch, edit))
    # The other job and the health check still parse; only the broken job is missing.
    assert set(bag.dag_ids) == {*SHIPPED - {"daily_digest"}, "agentjobs_health"}
    # The operator sees it in the UI's import errors, on the errors file alone (an import error
    # of agentjobs_jobs.py would mark every job's DAG stale).
    (where, error), *others = bag.import_errors.items()
    assert others == [] and where.endswith("agentjobs_spec_errors.py")
    assert "1 job spec(s) left out" in error
    (line,) = [line for line in error.splitlines() if "daily-digest.yaml" in line]
    assert message in line
    # ...and the hourly health check names it in its alert.
    (broken,) = bag.get_dag("agentjobs_health").get_task("check_jobs").broken
    assert broken.path.name == "daily-digest.yaml" and message in broken.error


def test_a_dag_id_used_twice_keeps_the_first_file_and_reports_the_second(airflow_db, tmp_path, monkeypatch):
    dags = project_with(tmp_path, monkeypatch)
    jobs = tmp_path / "include" / "jobs"
    (jobs / "zz-copy.yaml").write_text((jobs / "weekly-newsletter.yaml").read_text())
    bag = dagbag(dags)
    assert set(bag.dag_ids) == {*SHIPPED, "agentjobs_health"}
    (error,) = bag.import_errors.values()
    assert (
        "zz-copy.yaml: invalid job spec: field 'dag_id': 'weekly_newsletter' is already the dag_id of "
        "weekly-newsletter.yaml; give this job its own dag_id"
    ) in error


ERRORS_AND_KINDS = (
    "' '.join(bag.import_errors.values()).replace(chr(10), ' ')",
    "sorted(m for m in sys.modules if m.startswith('agentjobs.jobs.kinds.'))",
)
JOBS_FILE = REPO / "dags" / "agentjobs_jobs.py"
DAGS_AND_ERRORS = "len(bag.dags), len(bag.import_errors)"


def _parse_alone(dag_file: Path, probes: tuple[str, ...] = ERRORS_AND_KINDS) -> list[str]:
    """Parse one DAG file in a fresh process, as the DAG processor does, and print each probe: a
    Python expression over `bag`, `sys` and `before` (the modules loaded before the parse), with
    `json` and pydantic's `BaseModel` at hand. By default its import errors, then the kind modules
    it loaded. Returns the printed lines, one a probe."""
    code = (
        "import json, sys\n"
        "from pydantic import BaseModel\n"
        "from airflow.dag_processing.dagbag import DagBag\n"
        # What Airflow's own start imported (our config options, say) is not the parse's.
        "before = set(sys.modules)\n"
        f"bag = DagBag(dag_folder={str(dag_file)!r})\n" + "".join(f"print({probe})\n" for probe in probes)
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout.strip().splitlines()[-len(probes) :]


def test_the_errors_file_reports_the_jobs_files_verdict_without_loading_the_kinds(
    airflow_db, tmp_path, monkeypatch
):
    dags = project_with(tmp_path, monkeypatch, lambda text: text.replace("title:", "titel:"))
    _parse_alone(dags / "agentjobs_jobs.py")  # validates every spec and leaves the verdict
    errors, kinds = _parse_alone(dags / "agentjobs_spec_errors.py")
    assert (
        "daily-digest.yaml: invalid job spec: field 'title': Field required" in errors
        and "1 job spec(s)" in errors
    )
    assert kinds == "[]"  # the verdict was reported as it stands: no spec validated again
    # A spec edited since is judged again: the verdict holds only for the bytes it judged.
    newsletter = tmp_path / "include" / "jobs" / "weekly-newsletter.yaml"
    newsletter.write_text(newsletter.read_text().replace("title:", "tittle:"))
    errors, _ = _parse_alone(dags / "agentjobs_spec_errors.py")
    assert "2 job spec(s)" in errors and "weekly-newsletter.yaml: invalid job spec: field 'title'" in errors


def test_a_kinds_modules_load_only_when_a_spec_of_that_kind_is_in_the_folder(
    airflow_db, tmp_path, monkeypatch
):
    dags = project_with(tmp_path, monkeypatch)
    for spec in (tmp_path / "include" / "jobs").glob("*.yaml"):
        if spec.name not in ("daily-digest.yaml", "weekly-insights.yaml"):
            spec.unlink()
    errors, kinds = _parse_alone(dags / "agentjobs_jobs.py")
    assert errors == ""
    loaded = {name.rsplit(".", 1)[1] for name in kinds.strip("[]").replace("'", "").split(", ")}
    assert "weekly_insights" in loaded
    # No other kind's module (each is hundreds of lines of prompts, tools, renderers and checks).
    assert not loaded & (set(FAN_OUT_KINDS) - {"weekly_insights"})


def test_parsing_the_jobs_file_leaves_the_agents_run_time_modules_unimported(airflow_db):
    # The DAG processor imports what the DAG file imports on every parse: the model client, the
    # agent loop, the LLM hook and the delivery ledger are needed only when a task runs, and so
    # are the SQL reader and the inputs' contract check (sqlglot alone costs ~100 ms a parse),
    # the skill loader, the budget, the health checks, the digest's renderer, the snapshot
    # models and the report store; the PII detector and the pseudonyms (the agent task's), and the
    # sample business schema's tables (the reconciliation's write and its module), the kinds' tools and their
    # permission engine; the kinds' run-time bodies (anomaly_detect: the detection's flags and code;
    # batch_notifications_run, compliance_report_run, enrichment_run, weekly_insights_run: each
    # kind's counts, figures, lookups or arithmetic, prompts, tools, renderer and check);
    # the guarded fetcher (sockets, TLS) that enrichment's spec check no longer needs; the
    # run-file store and its sync (a task's scratch copy is made when it runs); the reconciliation
    # kinds' shared core, matching rules and run-time halves (their faces are reconcile_face.py);
    # the batch kinds' event claims, the name check and the numbers' check and formats, and the
    # run plan's type (a task's, not a parse's); the run log's hook, the scrubber and the
    # transcript, the text helpers of the kinds' renderers, the team-run keys and snapshots, the
    # task metrics and the run files' and delivered results' helpers (2% of a parse's instructions).
    run_time = [
        "agentjobs.agent.budget",
        "agentjobs.agent.plan",
        "agentjobs.agent.scrub",
        "agentjobs.agent.transcript",
        "agentjobs.agent.unicode_text",
        "agentjobs.agent.guarded_http",
        "agentjobs.agent.http_policy",
        "agentjobs.agent.loop",
        "agentjobs.agent.model_client",
        "agentjobs.agent.runner",
        "agentjobs.agent.permissions",
        "agentjobs.agent.skills",
        "agentjobs.agent.tools",
        "agentjobs.business.schema",
        "agentjobs.delivery.claims",
        "agentjobs.delivery.ledger",
        "agentjobs.delivery.report_store",
        "agentjobs.hooks.ledger",
        "agentjobs.hooks.llm",
        "agentjobs.hooks.run_file_store",
        "agentjobs.jobs.digest",
        "agentjobs.jobs.health",
        "agentjobs.jobs.input_check",
        "agentjobs.jobs.kinds.anomaly_detect",
        "agentjobs.jobs.kinds.batch_notifications_run",
        "agentjobs.jobs.kinds.compliance_report_run",
        "agentjobs.jobs.kinds.enrichment_run",
        "agentjobs.jobs.kinds.invoice_reconciliation_run",
        "agentjobs.jobs.kinds.payment_rules",
        "agentjobs.jobs.kinds.reconcile_core",
        "agentjobs.jobs.kinds.reconcile_rules",
        "agentjobs.jobs.kinds.reconcile_write",
        "agentjobs.jobs.kinds.reconciliation_run",
        "agentjobs.jobs.kinds.snapshots",
        "agentjobs.jobs.kinds.weekly_insights_run",
        "agentjobs.jobs.markdown_text",
        "agentjobs.jobs.names",
        "agentjobs.jobs.numbers",
        "agentjobs.jobs.own_tables",
        "agentjobs.jobs.pii",
        "agentjobs.jobs.prompt_data",
        "agentjobs.jobs.pseudonyms",
        "agentjobs.jobs.record_ids",
        "agentjobs.jobs.team_run",
        "agentjobs.operators.artifacts",
        "agentjobs.operators.delivered",
        "agentjobs.operators.metrics",
        "agentjobs.operators.run_files",
        "agentjobs.operators.team_claims",
        "agentjobs.operators.team_validated",
        "agentjobs.sources.read_only",
        "agentjobs.sources.snapshot",
        "agentjobs.sources.sql",
        "sqlglot",
    ]
    probes = (DAGS_AND_ERRORS, f"sorted(m for m in {run_time!r} if m in sys.modules)")
    assert _parse_alone(JOBS_FILE, probes) == [f"{len(SHIPPED) + 1} 0", "[]"]


def test_parsing_the_jobs_file_defines_no_dataclass_but_query(airflow_db):
    # Defining a frozen dataclass compiles six methods (~0.4 ms a class on every parse); the
    # records of modules a parse imports are NamedTuples. Query stays a dataclass: its params
    # default to a fresh dict (default_factory), which a NamedTuple cannot give.
    dataclasses = (
        "sorted(f'{name}.{cls.__name__}' for name, module in list(sys.modules.items())\n"
        "    if name.startswith('agentjobs.') and name not in before for cls in vars(module).values()\n"
        "    if isinstance(cls, type) and cls.__module__ == name and '__dataclass_fields__' in vars(cls))"
    )
    assert _parse_alone(JOBS_FILE, (DAGS_AND_ERRORS, dataclasses)) == [
        f"{len(SHIPPED) + 1} 0",
        "['agentjobs.sources.teams.Query']",
    ]


def test_the_job_folder_parses_without_the_network_and_fast(airflow_db, tmp_path, monkeypatch):
    import socket
    import time

    dags = project_with(tmp_path, monkeypatch, lambda text: text.replace("title:", "titel:"))
    dagbag(dags)  # imports warm

    def no_network(*args, **kwargs):
        raise AssertionError("DAG parsing opened a socket")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    started = time.perf_counter()
    bag = dagbag(dags)
    assert time.perf_counter() - started < 5
    assert (
        set(bag.dag_ids) == {*SHIPPED - {"daily_digest"}, "agentjobs_health"} and len(bag.import_errors) == 1
    )


def test_the_digest_declares_its_deadline_and_llm_pool(airflow_db):
    from airflow.sdk import AsyncCallback

    digest = dagbag(REPO / "dags").get_dag("daily_digest")
    (alert,) = digest.deadline if isinstance(digest.deadline, list) else [digest.deadline]
    assert alert.interval.total_seconds() == 45 * 60
    assert type(alert.reference).__name__ == "DagRunQueuedAtDeadline"
    assert isinstance(alert.callback, AsyncCallback)
    assert alert.callback.path == "agentjobs.notifications.alert.JobAlertNotifier"
    assert alert.callback.kwargs["kind"] == "deadline"
    # The deadline can fire only before the run is stopped by its dagrun_timeout.
    assert alert.interval < digest.dagrun_timeout
    assert digest.get_task("summarize").pool == "agentjobs_llm"
    assert digest.get_task("validate").pool == "default_pool"


def test_the_agent_finds_the_skills_beside_the_specs_from_any_working_folder(
    airflow_db, tmp_path, monkeypatch
):
    from agentjobs.agent.skills import load_skill

    # A worker started elsewhere, with no AGENTJOBS_SKILLS_DIR: ./include/skills is not there.
    monkeypatch.delenv("AGENTJOBS_SKILLS_DIR")
    monkeypatch.chdir(tmp_path)
    summarize = dagbag(REPO / "dags").get_dag("daily_digest").get_task("summarize")
    assert Path(summarize.skills_dir) == REPO / "include" / "skills"
    assert load_skill("daily-digest", Path(summarize.skills_dir)).name == "daily-digest"
    # A folder named in the environment still wins (read when the task runs).
    monkeypatch.setenv("AGENTJOBS_SKILLS_DIR", str(tmp_path / "skills"))
    assert dagbag(REPO / "dags").get_dag("daily_digest").get_task("summarize").skills_dir is None


def test_under_celery_a_job_whose_ledger_is_a_hosts_sqlite_file_is_not_built(
    airflow_db, tmp_path, monkeypatch
):
    monkeypatch.setenv("AIRFLOW__CORE__EXECUTOR", "CeleryExecutor")
    monkeypatch.delenv("AGENTJOBS_LEDGER_CONN_ID", raising=False)
    monkeypatch.delenv("AGENTJOBS_LEDGER_SINGLE_HOST", raising=False)
    dags = project_with(tmp_path, monkeypatch)
    bag = dagbag(dags)
    # The shipped specs name no ledger: each would keep it in its worker host's own file.
    assert set(bag.dag_ids) == {"agentjobs_health"}
    ((where, error),) = bag.import_errors.items()
    assert where.endswith("agentjobs_spec_errors.py")
    assert f"{len(SHIPPED)} job spec(s) left out" in error
    (line,) = [line for line in error.splitlines() if "job 'daily_digest'" in line]
    assert line.startswith(str(tmp_path / "include" / "jobs" / "daily-digest.yaml"))
    assert "the executor CeleryExecutor runs tasks on several hosts" in line
    assert "set AGENTJOBS_LEDGER_CONN_ID=<a postgres connection every worker reaches>" in line
    # ...and the health check, which stays, names every job left out in its alert.
    broken = bag.get_dag("agentjobs_health").get_task("check_jobs").broken
    assert {b.dag_id for b in broken} == set(SHIPPED)

    # The fix the message names: a postgres connection every worker reaches, as the default.
    monkeypatch.setenv(
        "AIRFLOW_CONN_AGENTJOBS_LEDGER", "postgresql://agentjobs@ledger-db.internal:5432/ledger"
    )
    monkeypatch.setenv("AGENTJOBS_LEDGER_CONN_ID", "agentjobs_ledger")
    bag = dagbag(dags)
    assert bag.import_errors == {}
    assert set(bag.dag_ids) == {*SHIPPED, "agentjobs_health"}


def test_parsing_the_jobs_file_builds_the_validators_of_the_spec_and_the_kinds_sections_only(airflow_db):
    import json

    # pydantic builds a model's validator on its first use (~0.3-0.6 ms each, on every parse):
    # a parse validates each spec with JobSpec's, which holds the models of its sections, and
    # each kind's section with the kind's model. A section a spec leaves out is validated by
    # JobSpec's too, and a deadline's alert channel dumped through it: no other model is built.
    models_built = (
        "json.dumps(sorted({cls.__name__ for name, module in list(sys.modules.items())\n"
        "    if name.startswith('agentjobs.') for cls in vars(module).values()\n"
        "    if isinstance(cls, type) and issubclass(cls, BaseModel) and cls.__module__ == name\n"
        "    and cls.__dict__.get('__pydantic_complete__')}))"
    )
    count, built = _parse_alone(JOBS_FILE, (DAGS_AND_ERRORS, models_built))
    assert count == f"{len(SHIPPED) + 1} 0"
    assert json.loads(built) == [
        "AnomalySettings",
        "Caps",
        "ComplianceSettings",
        "EnrichmentSettings",
        "JobSpec",
        "ReconciliationSettings",
        "ReminderSettings",
        "Settings",  # batch_notifications' and weekly_insights'
    ]
