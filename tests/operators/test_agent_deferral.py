"""AgentOperator and the rate limiter's long waits: the task defers to the triggerer instead of
holding a worker slot, and its resume replays the calls already paid for."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from agentjobs.agent.rate_limiter import Limits, RateLimiter
from tests.airflow.conftest import run_dag, xcom
from tests.fakes.model_server import reply, tool_call

pytestmark = pytest.mark.airflow

LOGICAL_DATE = datetime(2026, 11, 24, tzinfo=UTC)
RESULT = 'RESULT: {"path": "answer.txt", "items": 1}'


class _WaitsStore:
    """A limiter's bucket answering the waits it is given in turn (then 0: the call may go)."""

    def __init__(self, *waits: float) -> None:
        self.waits = list(waits)

    def take(self, limits: Limits, tokens: float) -> float:
        return self.waits.pop(0) if self.waits else 0.0

    def adjust(self, limits: Limits, tokens: float) -> None:
        pass


class _StateStore:
    """The task state store as a dict (what Airflow keeps per task instance)."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    def set(self, key: str, value: Any) -> None:
        self.data[key] = json.loads(json.dumps(value))  # stored as JSON, as Airflow does


@pytest.fixture
def limited(monkeypatch, llm_conn):
    """The test connection with a limiter whose bucket answers scripted waits, no jitter."""
    from agentjobs.hooks.llm import LLMHook

    store = _WaitsStore()
    limiter = RateLimiter(Limits(requests_per_minute=6), store, jitter=lambda wait: wait)
    monkeypatch.setattr(LLMHook, "limiter", property(lambda self: limiter))
    return store


def _operator(llm_conn: str, tmp_path: Path, **kwargs: Any):
    from agentjobs.operators.agent import AgentOperator

    return AgentOperator(
        task_id="summarize",
        skill="echo",
        prompt="alpha",
        llm_conn_id=llm_conn,
        work_dir=str(tmp_path / "work"),
        **kwargs,
    )


def _context(op: Any, state: _StateStore) -> dict[str, Any]:
    pushed: dict[str, Any] = {}
    ti = SimpleNamespace(task=op, max_tries=0, xcom_push=lambda key, value: pushed.__setitem__(key, value))
    return {"ti": ti, "task_state_store": state, "params": {}, "pushed": pushed}


def _two_calls(model_server) -> None:
    model_server.script(
        tool_call("list_files", {}, prompt_tokens=100, completion_tokens=10),
        reply(RESULT, prompt_tokens=150, completion_tokens=5),
    )


def test_a_long_wait_defers_until_the_slot_and_the_resume_replays_the_paid_call(
    llm_conn, limited, model_server, tmp_path
):
    from airflow.sdk.exceptions import TaskDeferred

    _two_calls(model_server)
    limited.waits = [0.0, 42.0]  # the first call goes at once, the second's slot is 42 s away
    op = _operator(llm_conn, tmp_path, caps={"max_iterations": 2})
    state = _StateStore()
    context = _context(op, state)

    before = datetime.now(UTC)
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(context)
    after = datetime.now(UTC)
    assert before + timedelta(seconds=42) <= deferred.value.trigger.moment <= after + timedelta(seconds=42)
    assert deferred.value.method_name == "resume_after_wait"
    assert type(deferred.value.trigger).__name__ == "DateTimeTrigger"
    assert model_server.calls == 1
    assert "usage" not in context["pushed"]  # a deferral is not a failure

    # Back from the triggerer (a new operator, as on another worker): the first call is replayed,
    # not asked again, and the caps go on from where the try was: 2 iterations in all, so a cap
    # of 2 lets the second call go and a reset or a double count would show.
    resumed = _operator(llm_conn, tmp_path, caps={"max_iterations": 2})
    pushed = resumed.resume_after_wait(_context(resumed, state), event=None)
    assert model_server.calls == 2
    assert pushed["result"] == {"path": "answer.txt", "items": 1}
    assert pushed["usage"]["iterations"] == 2
    assert pushed["usage"]["total_tokens"] == (100 + 10) + (150 + 5)
    events = [
        json.loads(line)["event"]
        for line in (tmp_path / "work" / "transcript.jsonl").read_text().splitlines()
    ]
    assert events.count("waiting") == 1 and events.count("replayed") == 1 and events.count("completion") == 2


def test_the_time_cap_counts_the_deferred_wait(llm_conn, limited, model_server, tmp_path):
    from airflow.sdk.exceptions import TaskDeferred

    from agentjobs.agent.errors import BudgetExceeded
    from agentjobs.operators.spend_store import DEFERRED_KEY

    _two_calls(model_server)
    limited.waits = [0.0, 30.0]
    state = _StateStore()
    op = _operator(llm_conn, tmp_path, caps={"timeout_s": 60})
    with pytest.raises(TaskDeferred):
        op.execute(_context(op, state))
    # The triggerer (or a queue behind it) handed the task back 70 s after it deferred.
    state.data[DEFERRED_KEY]["at"] -= 70
    resumed = _operator(llm_conn, tmp_path, caps={"timeout_s": 60})
    with pytest.raises(BudgetExceeded, match="timeout_s limit 60"):
        resumed.resume_after_wait(_context(resumed, state))
    assert model_server.calls == 1


def test_a_short_wait_is_slept_and_none_always_sleeps(llm_conn, limited, model_server, tmp_path):
    _two_calls(model_server)
    limited.waits = [0.0, 0.3]
    op = _operator(llm_conn, tmp_path, defer_waits_from_s=None)
    started = time.monotonic()
    pushed = op.execute(_context(op, _StateStore()))
    assert time.monotonic() - started >= 0.3
    assert pushed["usage"]["iterations"] == 2 and model_server.calls == 2


def test_without_a_limiter_a_429_is_never_deferred(llm_conn, model_server, tmp_path):
    from tests.fakes.model_server import error

    # The default (no rate limit on the connection): a 429's wait is slept in the task as before.
    model_server.script(error(429, retry_after=0.2), reply(RESULT))
    op = _operator(llm_conn, tmp_path, defer_waits_from_s=0.1)
    pushed = op.execute(_context(op, _StateStore()))
    assert pushed["usage"]["iterations"] == 1 and model_server.calls == 2


@pytest.fixture
def slow_llm_conn(model_server, monkeypatch, airflow_db) -> str:
    """A connection allowing 20 requests a minute (a slot every 3 s), its bucket in the ledger."""
    conn_id = f"agentjobs_llm_defer_{time.time_ns()}"  # a bucket of its own
    extra = {"model": "scripted-model", "timeout": 10, "requests_per_minute": 20}
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{conn_id.upper()}",
        json.dumps({"conn_type": "agentjobs_llm", "host": model_server.base_url, "extra": extra}),
    )
    return conn_id


def test_a_task_waiting_for_the_limiter_defers_and_completes_in_dag_test(
    slow_llm_conn, model_server, tmp_path
):
    from airflow.sdk import DAG

    from agentjobs.operators.agent import AgentOperator

    _two_calls(model_server)
    with DAG("agent_limiter_defer", schedule=None, start_date=LOGICAL_DATE, catchup=False) as dag:
        AgentOperator(
            task_id="summarize",
            skill="echo",
            prompt="alpha",
            llm_conn_id=slow_llm_conn,
            work_dir=str(tmp_path / "work"),
            caps={"max_iterations": 2, "max_cost_usd": None},
            defer_waits_from_s=1.0,  # the 3 s between calls defers (dag.test runs the trigger inline)
        )
    run = run_dag(dag, logical_date=LOGICAL_DATE)
    assert {ti.task_id: ti.state for ti in run.get_task_instances()}["summarize"] == "success"
    pushed = xcom(run, "summarize")
    assert pushed["usage"]["iterations"] == 2 and model_server.calls == 2
    events = [
        json.loads(line)["event"]
        for line in (tmp_path / "work" / "transcript.jsonl").read_text().splitlines()
    ]
    assert events.count("waiting") == 1 and events.count("replayed") == 1
    # The resume asked the model for the second call only, with the first call's answer in it.
    assert [m["role"] for m in model_server.requests[1].body["messages"]][-2:] == ["assistant", "tool"]
