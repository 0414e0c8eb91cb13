"""AgentOperator run through dag.test(): XCom, transcript, caps, retries and the budget scope."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.airflow.conftest import run_dag, xcom
from tests.fakes.model_server import error, reply, tool_call

pytestmark = pytest.mark.airflow

LOGICAL_DATE = datetime(2026, 11, 24, tzinfo=UTC)


def build_dag(dag_id: str, conn_id: str, tmp_path: Path, **operator_kwargs):
    from airflow.sdk import DAG

    from agentjobs.operators.agent import AgentOperator

    with DAG(dag_id, schedule=None, start_date=LOGICAL_DATE, catchup=False) as dag:
        AgentOperator(
            task_id="summarize",
            skill="echo",
            prompt="alpha\nbeta\n{{ ds }}",
            llm_conn_id=conn_id,
            work_dir=str(tmp_path / "{{ dag.dag_id }}" / "{{ ds }}"),
            **operator_kwargs,
        )
    return dag


def task_state(dag_run, task_id: str = "summarize") -> str:
    return {ti.task_id: ti.state for ti in dag_run.get_task_instances()}[task_id]


def test_success_pushes_the_small_dict_and_writes_the_transcript(llm_conn, model_server, tmp_path):
    model_server.script(
        tool_call("write_file", {"path": "answer.txt", "content": "alpha\nbeta\n2026-11-24\n"}),
        reply('RESULT: {"path": "answer.txt", "items": 3}', prompt_tokens=200, completion_tokens=50),
    )
    dag = build_dag("agent_ok", llm_conn, tmp_path)
    run = run_dag(dag, logical_date=LOGICAL_DATE)
    assert task_state(run) == "success"
    pushed = xcom(run, "summarize")
    work_dir = tmp_path / "agent_ok" / "2026-11-24"
    assert pushed == {
        "result": {"path": "answer.txt", "items": 3},
        "usage": {
            "iterations": 2,
            "prompt_tokens": 210,
            "completion_tokens": 55,
            "total_tokens": 265,
            "cost_usd": pytest.approx((210 * 1.0 + 55 * 4.0) / 1e6),
        },
        "artifact": str(work_dir),
        "model": "scripted",
    }
    # The templated prompt reached the model; the transcript sits next to the artifact.
    assert "2026-11-24" in model_server.requests[0].body["messages"][1]["content"]
    events = [json.loads(line)["event"] for line in (work_dir / "transcript.jsonl").read_text().splitlines()]
    assert events[0] == "start" and events[-1] == "result" and events.count("completion") == 2
    assert (work_dir / "answer.txt").read_text().startswith("alpha")
    # The transcript is not in XCom and no key leaked into it.
    assert "transcript" not in json.dumps(pushed)
    assert "sk-test-planted-secret" not in (work_dir / "transcript.jsonl").read_text()


def test_caps_are_one_rendered_template_field(llm_conn, tmp_path):
    from agentjobs.agent.caps import Caps
    from agentjobs.operators.agent import AgentOperator

    dag = build_dag("agent_fields", llm_conn, tmp_path, caps={"max_iterations": 7, "max_cost_usd": 0.5})
    task = dag.get_task("summarize")
    assert isinstance(task, AgentOperator)
    assert "caps" in task.template_fields and "prompt" in task.template_fields
    # The caps not named keep the one set of defaults (agent/caps.py).
    assert task.caps == Caps(max_iterations=7, max_cost_usd=0.5)
    assert task.caps.max_total_tokens == Caps().max_total_tokens
    assert task.execution_timeout.total_seconds() == task.caps.timeout_s + 60


def test_single_cap_arguments_are_refused_with_the_one_argument_to_use(llm_conn, tmp_path):
    with pytest.raises(TypeError, match=r'pass caps=\{"max_iterations": 7\}'):
        build_dag("agent_old_caps", llm_conn, tmp_path, max_iterations=7)


def test_caps_rendered_from_a_param_are_validated_once_at_run_time(llm_conn, model_server, tmp_path):
    model_server.default_step = tool_call("list_files", {}, prompt_tokens=10, completion_tokens=10)
    dag = build_dag("agent_param_caps", llm_conn, tmp_path, caps="{{ params.caps | tojson }}")
    dag.params = {"caps": {"max_iterations": 2}}
    run = run_dag(dag, logical_date=LOGICAL_DATE)
    assert model_server.calls == 2
    assert "max_iterations limit 2" in xcom(run, "summarize", key="usage")["error"]

    model_server.reset()
    model_server.default_step = tool_call("list_files", {}, prompt_tokens=10, completion_tokens=10)
    each = build_dag("agent_each_cap", llm_conn, tmp_path, caps={"max_iterations": "{{ params.n }}"})
    each.params = {"n": 1}
    run = run_dag(each, logical_date=LOGICAL_DATE)
    assert model_server.calls == 1
    assert "max_iterations limit 1" in xcom(run, "summarize", key="usage")["error"]

    bad = build_dag(
        "agent_bad_caps",
        llm_conn,
        tmp_path,
        caps="{{ params.caps | tojson }}",
        retries=2,
        retry_delay=timedelta(0),
    )
    bad.params = {"caps": {"max_iteration": 2}}
    run = run_dag(bad, logical_date=LOGICAL_DATE)
    assert task_state(run) == "failed" and model_server.calls == 1  # refused before any call
    (ti,) = run.get_task_instances()
    assert ti.try_number == 1  # bad caps fail every try alike: not retried


def test_budget_exceeded_fails_without_retry_and_still_pushes_usage(llm_conn, model_server, tmp_path):
    model_server.default_step = tool_call("list_files", {}, prompt_tokens=10, completion_tokens=10)
    dag = build_dag("agent_budget", llm_conn, tmp_path, caps={"max_iterations": 2}, retries=3)
    run = run_dag(dag, logical_date=LOGICAL_DATE)
    assert task_state(run) == "failed"  # not up_for_retry: the policy FAILs budget errors
    assert model_server.calls == 2
    pushed = xcom(run, "summarize", key="usage")
    assert pushed["usage"]["iterations"] == 2 and pushed["usage"]["total_tokens"] == 40
    assert pushed["error"].startswith("BudgetExceeded: budget exceeded: max_iterations limit 2")


def test_contract_violation_fails_without_retry(llm_conn, model_server, tmp_path):
    model_server.script(reply("I wrote it."), reply("Still no result line."))
    dag = build_dag("agent_contract", llm_conn, tmp_path, retries=3)
    run = run_dag(dag, logical_date=LOGICAL_DATE)
    assert task_state(run) == "failed"
    assert model_server.calls == 2  # one answer plus one repair turn
    assert "ContractViolation" in xcom(run, "summarize", key="usage")["error"]


def test_empty_result_fails_unless_allowed(llm_conn, model_server, tmp_path):
    empty = 'RESULT: {"path": "answer.txt", "items": 0}'
    model_server.script(reply(empty))
    run = run_dag(build_dag("agent_empty", llm_conn, tmp_path), logical_date=LOGICAL_DATE)
    assert task_state(run) == "failed"
    assert "EmptyResult" in xcom(run, "summarize", key="usage")["error"]

    model_server.script(reply(empty))
    run = run_dag(
        build_dag("agent_empty_ok", llm_conn, tmp_path, allow_empty=True), logical_date=LOGICAL_DATE
    )
    assert task_state(run) == "success"


def test_unauthorized_fails_at_once(llm_conn, model_server, tmp_path):
    model_server.script(error(401, "bad key"))
    run = run_dag(build_dag("agent_401", llm_conn, tmp_path, retries=3), logical_date=LOGICAL_DATE)
    assert task_state(run) == "failed"
    assert model_server.calls == 1


def test_rate_limit_is_retried_and_the_retry_succeeds(llm_conn, model_server, tmp_path):
    from datetime import timedelta

    model_server.script(error(429, retry_after=0), reply('RESULT: {"path": "answer.txt", "items": 1}'))
    dag = build_dag("agent_429", llm_conn, tmp_path, retries=1, retry_delay=timedelta(seconds=0))
    run = run_dag(dag, logical_date=LOGICAL_DATE)
    assert task_state(run) == "success"
    assert model_server.calls == 2
    assert xcom(run, "summarize")["usage"]["iterations"] == 1  # the refused call cost nothing


def test_the_budget_spans_retries_of_the_task_instance(llm_conn, model_server, tmp_path):
    from datetime import timedelta

    model_server.script(
        tool_call("list_files", {}, prompt_tokens=10, completion_tokens=10),
        error(500, "upstream hiccup"),
    )
    model_server.default_step = tool_call("list_files", {}, prompt_tokens=10, completion_tokens=10)
    dag = build_dag(
        "agent_retry_budget",
        llm_conn,
        tmp_path,
        caps={"max_iterations": 2},
        retries=2,
        retry_delay=timedelta(seconds=0),
    )
    run = run_dag(dag, logical_date=LOGICAL_DATE)
    assert task_state(run) == "failed"
    # Try 1: one counted call, then a 500. Try 2 resumes at 1 iteration, so it may make one more.
    assert model_server.calls == 3
    assert xcom(run, "summarize", key="usage")["usage"]["iterations"] == 2


def test_the_budget_clock_ends_a_model_that_never_answers(llm_conn, model_server, tmp_path):
    from tests.fakes.model_server import slow

    model_server.script(slow(60, reply("late")))
    dag = build_dag("agent_hang_budget", llm_conn, tmp_path, caps={"timeout_s": 1}, retries=2)
    run = run_dag(dag, logical_date=LOGICAL_DATE)
    assert task_state(run) == "failed"
    assert model_server.calls == 1  # a budget timeout is not retried
    assert "timeout_s limit 1" in xcom(run, "summarize", key="usage")["error"]


def test_execution_timeout_ends_a_hang_the_budget_does_not_cover(llm_conn, model_server, tmp_path):
    from datetime import timedelta

    from tests.fakes.model_server import slow

    model_server.script(slow(60, reply("late")))
    dag = build_dag(
        "agent_hang_exec",
        llm_conn,
        tmp_path,
        caps={"timeout_s": None},
        execution_timeout=timedelta(seconds=2),
    )
    run = run_dag(dag, logical_date=LOGICAL_DATE)
    assert task_state(run) == "failed"
    assert "Timeout" in xcom(run, "summarize", key="usage")["error"]


def conversational_model(fail_on_call: int):
    """A model that answers by the state of the conversation, as a real one would: a retry that
    asks again from the start gets the same answers, and pays for them again."""
    seen = {"calls": 0}

    def answer(request):
        seen["calls"] += 1
        if seen["calls"] == fail_on_call:
            return error(502, "bad gateway")
        tool_results = [m for m in request.body["messages"] if m["role"] == "tool"]
        if len(tool_results) == 0:
            return tool_call("list_files", {}, prompt_tokens=100, completion_tokens=10)
        if len(tool_results) == 1:
            return tool_call("read_file", {"path": "notes.txt"}, prompt_tokens=120, completion_tokens=10)
        return reply('RESULT: {"path": "answer.txt", "items": 1}', prompt_tokens=150, completion_tokens=5)

    return answer


def test_a_retry_replays_the_paid_calls_instead_of_calling_the_model_again(llm_conn, model_server, tmp_path):
    from datetime import timedelta

    from tests.fakes.model_server import respond

    work = tmp_path / "agent_replay" / "2026-11-24"
    work.mkdir(parents=True)
    (work / "notes.txt").write_text("alpha")
    model_server.default_step = respond(conversational_model(fail_on_call=3))
    dag = build_dag("agent_replay", llm_conn, tmp_path, retries=1, retry_delay=timedelta(seconds=0))
    run = run_dag(dag, logical_date=LOGICAL_DATE)
    assert task_state(run) == "success"
    # Try 1 made two paid calls and hit a 502; try 2 replayed both and made one new call
    # (without the replay it would ask all three again: 6 calls).
    assert model_server.calls == 4
    usage = xcom(run, "summarize")["usage"]
    assert usage["iterations"] == 3
    assert usage["total_tokens"] == (100 + 10) + (120 + 10) + (150 + 5)  # each call counted once


def test_replayed_calls_do_not_let_a_retry_pass_the_cap(llm_conn, model_server, tmp_path):
    from datetime import timedelta

    model_server.script(
        tool_call("list_files", {}, prompt_tokens=100, completion_tokens=10),
        error(500, "boom"),
    )
    model_server.default_step = tool_call("list_files", {}, prompt_tokens=100, completion_tokens=10)
    dag = build_dag(
        "agent_replay_cap",
        llm_conn,
        tmp_path,
        retries=1,
        retry_delay=timedelta(seconds=0),
        caps={"max_iterations": 2},
    )
    run = run_dag(dag, logical_date=LOGICAL_DATE)
    assert task_state(run) == "failed"
    # Try 2 replays call 1 (free), makes call 2 live, and then the cap of 2 stops it.
    assert model_server.calls == 3
    assert xcom(run, "summarize", key="usage")["usage"]["iterations"] == 2


def test_a_secret_in_the_result_never_reaches_xcom(llm_conn, model_server, tmp_path):
    from airflow.sdk import DAG

    from agentjobs.operators.agent import AgentOperator

    skill = tmp_path / "skills" / "notes"
    skill.mkdir(parents=True)
    (skill / "SKILL.md").write_text(
        "---\nname: notes\ndescription: Returns a note.\nresult_schema:\n  type: object\n"
        "  properties: {note: {type: string}}\n---\nReturn a note.\n"
    )
    leaked = "ghp_" + "A1b2C3d4" * 4 + "zz99"
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJib2IifQ.Zm9vYmFyYmF6cXV4cXV1eA"
    webhook = "https://hooks.slack.com/services/T0AAAAAAA/B0BBBBBBB/c0ffeec0ffeec0ffee"
    model_server.script(
        reply(
            f'RESULT: {{"note": "token is {leaked} and key sk-test-planted-secret-0123456789, '
            f'jwt {jwt}, hook {webhook}, PASSWORD=\\\\\\"pw-4-xcom\\\\\\""}}'
        )
    )
    with DAG("agent_secret", schedule=None, start_date=LOGICAL_DATE) as dag:
        AgentOperator(
            task_id="summarize",
            skill="notes",
            skills_dir=str(tmp_path / "skills"),
            prompt="p",
            llm_conn_id=llm_conn,
            work_dir=str(tmp_path / "w"),
        )
    run = run_dag(dag, logical_date=LOGICAL_DATE)
    note = xcom(run, "summarize")["result"]["note"]
    assert leaked not in note and "sk-test-planted-secret" not in note and "***" in note
    for secret in ("eyJzdWIiOiJib2IifQ", "c0ffeec0ffee", "pw-4-xcom"):
        assert secret not in note
    transcript = (tmp_path / "w" / "transcript.jsonl").read_text()
    assert leaked not in transcript and "pw-4-xcom" not in transcript
    assert all(json.loads(line) for line in transcript.splitlines())


def test_a_reply_holding_a_lone_surrogate_does_not_fail_the_task(llm_conn, model_server, tmp_path):
    # JSON's "\ud800" (a model copying a broken feed item) decodes to a lone surrogate, which
    # the task state store could not encode when saving the spend: the task failed and retried.
    model_server.script(
        tool_call("write_file", {"path": "answer.txt", "content": "alpha\nbeta\n2026-11-24\n"}),
        reply('The feed said \ud800.\nRESULT: {"path": "answer.txt", "items": 3}'),
    )
    dag = build_dag("agent_surrogate", llm_conn, tmp_path)
    run = run_dag(dag, logical_date=LOGICAL_DATE)
    assert task_state(run) == "success" and model_server.calls == 2
    transcript = (tmp_path / "agent_surrogate" / "2026-11-24" / "transcript.jsonl").read_text("utf-8")
    assert "The feed said \ufffd." in transcript


@pytest.fixture
def http_loggers_unset():
    """The HTTP client's loggers at NOTSET, as a process starts them (an earlier test may have
    quieted them), and as they were after the test."""
    import logging

    from agentjobs.operators.agent import CHATTY_HTTP_LOGGERS

    loggers = [logging.getLogger(name) for name in CHATTY_HTTP_LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.NOTSET)
    yield loggers
    for logger, level in zip(loggers, levels, strict=True):
        logger.setLevel(level)


def test_the_task_log_has_the_iteration_lines_not_a_line_per_http_request(
    llm_conn, model_server, tmp_path, capfd, http_loggers_unset
):
    model_server.script(
        tool_call("write_file", {"path": "answer.txt", "content": "a\n"}),
        reply('RESULT: {"path": "answer.txt", "items": 1}'),
    )
    run = run_dag(build_dag("agent_log", llm_conn, tmp_path), logical_date=LOGICAL_DATE)
    assert task_state(run) == "success"
    task_log = capfd.readouterr().out  # where dag.test writes the task's log
    assert task_log.count("iteration 1/40") == 1 and task_log.count("iteration 2/40") == 1
    # The endpoint, once; not the HTTP client's INFO line for every request (Airflow quiets httpx's).
    assert f"Model scripted-model at {model_server.base_url}/" in task_log
    assert "HTTP Request: POST" not in task_log


def test_quieting_the_http_client_log_keeps_its_warnings_and_a_configured_level(http_loggers_unset):
    import logging

    from agentjobs.operators.agent import quiet_http_request_log

    (httpx2,) = http_loggers_unset
    quiet_http_request_log()
    assert not httpx2.isEnabledFor(logging.INFO) and httpx2.isEnabledFor(logging.WARNING)
    httpx2.setLevel(logging.DEBUG)  # as a deployment's logging config may ask
    quiet_http_request_log()
    assert httpx2.isEnabledFor(logging.DEBUG)


def test_with_run_files_on_a_store_each_paid_call_is_in_the_stored_transcript_before_the_next(
    llm_conn, model_server, tmp_path, monkeypatch
):
    """A try SIGKILLed during its second call runs no end-of-try push: the first call's answer
    must already be on the store, so the retry (on any host) starts from that transcript."""
    from airflow.sdk import DAG

    from agentjobs.operators.agent import AgentOperator
    from tests.fakes.model_server import respond

    store = tmp_path / "store"
    monkeypatch.setenv("AIRFLOW__AGENTJOBS__RUN_FILES", store.as_uri())
    stored_at_call: list[list[str]] = []

    def answer(request):
        transcript = store / "agent_pushed" / "2026-11-24" / "transcript.jsonl"
        lines = transcript.read_text().splitlines() if transcript.exists() else []
        stored_at_call.append([json.loads(line)["event"] for line in lines])
        if len(stored_at_call) == 1:
            return tool_call("write_file", {"path": "answer.txt", "content": "alpha\nbeta\n2026-11-24\n"})
        return reply('RESULT: {"path": "answer.txt", "items": 3}')

    model_server.default_step = respond(answer)
    with DAG("agent_pushed", schedule=None, start_date=LOGICAL_DATE, catchup=False) as dag:
        AgentOperator(task_id="summarize", skill="echo", prompt="alpha\nbeta\n{{ ds }}", llm_conn_id=llm_conn)
    run = run_dag(dag, logical_date=LOGICAL_DATE)
    assert task_state(run) == "success"
    assert stored_at_call[0] == []  # nothing stored before the first call
    assert "completion" in stored_at_call[1]  # the first paid answer, stored before the second call
