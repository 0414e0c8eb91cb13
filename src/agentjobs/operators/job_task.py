"""JobTaskOperator: what every plain task of a job's DAG shares (fetch, validate, deliver).

It holds the job's spec, knows the period its run covers and the folder the run's files go
to (with a run-file store configured, a scratch copy of it: operators/run_files.py), and lets no
exception leave with a secret in it: task logs and alerts quote them.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from airflow.sdk import BaseOperator

# Modules only a running task needs are imported in the functions that use them: every DAG
# parse imports this module (bench/dag_parse.py).
from agentjobs.jobs.period import Period, context_period, job_dir
from agentjobs.jobs.spec import JobSpec


def run_period(spec: JobSpec, context: Any) -> Period:
    """The days this run of the job covers (the run of the 25th: the 24th)."""
    return context_period(context, spec.timezone, spec.period_days)


def job_run_dir(spec: JobSpec, context: Any) -> Path:
    """The run's folder: its snapshot, transcript and digest, keyed by the day it covers."""
    return job_dir(spec.dag_id, run_period(spec, context))


def agent_defaults(spec: JobSpec, kwargs: dict[str, Any], *, skill: str, allow_empty: bool) -> dict[str, Any]:
    """An agent task's AgentOperator arguments from its job's spec, where the caller gave none.

    The caps are the spec's, with those a triggered run names in its `caps` Param laid over
    them (see `caps_template`).
    """
    kwargs.setdefault("skill", skill)
    kwargs.setdefault("prompt", "")
    kwargs.setdefault("llm_conn_id", spec.llm_conn_id)
    kwargs.setdefault("fallback_conn_ids", spec.fallback_conn_ids)
    kwargs.setdefault("model", spec.model)
    kwargs.setdefault("allow_empty", allow_empty)
    kwargs.setdefault("caps", caps_template(spec))
    if spec.caps.timeout_s is not None:
        # The backstop for a hang outside the budget's clock, fixed when the DAG is parsed.
        kwargs.setdefault("execution_timeout", timedelta(seconds=spec.caps.timeout_s + 60))
    return kwargs


def caps_template(spec: JobSpec) -> str:
    """The agent's caps for one run: the spec's, with those in the run's `caps` Param over them.

    Airflow lays a run's conf over the Params one level deep, so `{"caps": {"max_cost_usd": 0.5}}`
    replaces the whole Param; the spec's caps are written into the template so that the caps
    the conf does not name keep the spec's values. The Rendered Template tab shows the result.
    """
    return "{{ dict(" + repr(spec.caps.model_dump()) + ", **params.caps) | tojson }}"


class JobTaskOperator(BaseOperator):
    """A task of a job's DAG. Subclasses implement `run` instead of `execute`, and take the job's
    `spec` in their own __init__ (`self.spec = spec`), straight after BaseOperator's, which they
    call as `init_base(self, **kwargs)` (operators/base_init.py), not `super().__init__`.

    No __init__ here on purpose: Airflow wraps each __init__ of an operator's class chain, and
    every wrapper deep-copies the DAG's Params again, so a base class's __init__ costs each of
    its tasks a copy on every DAG parse (bench/dag_parse.py); `init_base` spares BaseOperator's.
    """

    spec: JobSpec

    def execute(self, context: Any) -> Any:
        from agentjobs.agent.scrub import scrubbed_errors
        from agentjobs.operators.retry import permanent_failures_end_the_task
        from agentjobs.operators.run_files import task_files  # run-time: a parse needs none

        with (
            permanent_failures_end_the_task(),
            scrubbed_errors(),
            task_files(lambda: self.run_folders(context), context),
        ):
            return self.run(context)

    def run_folders(self, context: Any) -> list[Path]:
        """The run folders this task reads and writes: the run's. Pulled from the run-file store
        before `run` and pushed back after, when one is configured."""
        return [job_run_dir(self.spec, context)]

    def run(self, context: Any) -> Any:
        raise NotImplementedError
