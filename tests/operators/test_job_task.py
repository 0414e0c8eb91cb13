"""What every task of a job shares: the agent arguments taken from the spec, the caps a triggered
run may change one by one, and no secret leaving a task in its exception."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import jinja2
import pytest

from agentjobs.jobs.spec import JobSpec, load_spec
from agentjobs.operators.job_task import JobTaskOperator, agent_defaults, caps_template

JOBS = Path(__file__).resolve().parents[2] / "include" / "jobs"


def digest() -> JobSpec:
    return load_spec(JOBS / "daily-digest.yaml")


def render_caps(spec: JobSpec, run_caps: dict[str, Any]) -> dict[str, Any]:
    # Jinja's own globals and filters (dict, tojson) are what the template uses, as Airflow's do.
    return json.loads(jinja2.Environment().from_string(caps_template(spec)).render(params={"caps": run_caps}))


def test_a_run_that_names_no_caps_gets_the_specs():
    spec = digest()
    assert render_caps(spec, {}) == spec.caps.model_dump()


def test_a_run_that_names_one_cap_changes_that_one_and_keeps_the_specs_others():
    spec = digest()
    caps = render_caps(spec, {"max_cost_usd": 0.2})
    assert caps == {**spec.caps.model_dump(), "max_cost_usd": 0.2}
    assert caps["max_iterations"] == 40


def test_an_agent_task_takes_the_specs_model_connection_caps_and_a_timeout_a_minute_past_its_budget():
    spec = digest()
    kwargs = agent_defaults(spec, {"task_id": "summarize"}, skill="daily-digest", allow_empty=False)
    assert kwargs["skill"] == "daily-digest"
    assert kwargs["llm_conn_id"] == "agentjobs_llm_default"
    assert kwargs["allow_empty"] is False
    assert kwargs["caps"] == caps_template(spec)
    assert kwargs["execution_timeout"] == timedelta(seconds=900 + 60)


def test_what_the_caller_gives_wins_over_the_spec():
    kwargs = agent_defaults(
        digest(),
        {"skill": "pii-review", "llm_conn_id": "other_llm", "execution_timeout": timedelta(minutes=5)},
        skill="daily-digest",
        allow_empty=True,
    )
    assert kwargs["skill"] == "pii-review"
    assert kwargs["llm_conn_id"] == "other_llm"
    assert kwargs["execution_timeout"] == timedelta(minutes=5)
    assert kwargs["allow_empty"] is True


def test_no_agent_time_limit_means_no_execution_timeout_from_the_spec():
    spec = digest()
    spec = spec.model_copy(update={"caps": spec.caps.model_copy(update={"timeout_s": None})})
    assert "execution_timeout" not in agent_defaults(spec, {}, skill="daily-digest", allow_empty=False)


class Leaky(JobTaskOperator):
    def __init__(self, *, spec: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.spec = spec

    def run(self, context: Any) -> Any:
        raise RuntimeError(
            "SMTP login failed for postgresql://bob:hunter22@db/x with sk-proj-" + "a1B2c3D4" * 4
        )


def test_an_exception_leaving_a_task_carries_no_secret():
    with pytest.raises(Exception) as raised:
        Leaky(task_id="deliver_email_0", spec=digest()).execute({})
    assert "SMTP login failed" in str(raised.value)
    assert "hunter22" not in str(raised.value) and "a1B2c3D4" not in str(raised.value)


def test_each_task_of_ours_runs_one_init_of_its_own_over_airflows():
    # Airflow wraps every __init__ in an operator's class chain, and each wrapper deep-copies the
    # DAG's Params again: a base class's __init__ would cost every task a copy on every parse.
    from airflow.sdk import BaseOperator

    from agentjobs.operators.deliver import DeliverOperator
    from agentjobs.operators.fetch import FetchSourceOperator
    from agentjobs.operators.pii_review import PiiReviewOperator
    from agentjobs.operators.run_alert import RunAlertOperator
    from agentjobs.operators.team_apply import TeamApplyOperator
    from agentjobs.operators.team_deliver import TeamDeliverOperator
    from agentjobs.operators.team_fetch import TeamFetchOperator
    from agentjobs.operators.team_publish import TeamPublishOperator
    from agentjobs.operators.team_validate import TeamValidateOperator
    from agentjobs.operators.validate import ValidateDigestOperator

    for task in (
        DeliverOperator,
        FetchSourceOperator,
        PiiReviewOperator,
        RunAlertOperator,
        TeamApplyOperator,
        TeamDeliverOperator,
        TeamFetchOperator,
        TeamPublishOperator,
        TeamValidateOperator,
        ValidateDigestOperator,
    ):
        inits = [c for c in task.__mro__ if "__init__" in vars(c) and issubclass(c, BaseOperator)]
        assert inits == [task, BaseOperator], task
