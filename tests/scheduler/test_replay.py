"""A retry does not re-spend tokens: the worker is killed with SIGKILL in the middle of the
agent's tool loop, and the retry replays the model calls the killed try already paid for.
"""

from __future__ import annotations

import os
import signal
from datetime import timedelta
from pathlib import Path

import psutil
import pytest

from tests.fakes.model_server import reply, slow, tool_call
from tests.scheduler.conftest import SchedulerServices
from tests.scheduler.harness import AirflowCluster, ClusterError, poll
from tests.scheduler.jobs import TODAY, job_spec, logical_date_of, make_sources, short_sha, unique_id

pytestmark = [pytest.mark.slow, pytest.mark.scheduler, pytest.mark.timeout(300)]

TOKENS_PER_CALL = 110  # 100 prompt + 10 completion, on every scripted reply
COMPLETED_BEFORE_KILL = 2


def _step_usage() -> dict[str, int]:
    return {"prompt_tokens": 100, "completion_tokens": 10}


def task_process_calling(cluster: AirflowCluster, port: int) -> psutil.Process:
    """The scheduler's descendant with a connection open to `port` on loopback: the agent task.

    (LocalExecutor runs tasks in processes forked under the scheduler; their titles are
    rewritten, "airflow worker -- <id>", so the process tree is what identifies them.)
    """
    found, seen = [], []
    for proc in cluster.component_tree("scheduler"):
        try:
            conns = proc.net_connections(kind="tcp")
            title = " ".join(proc.cmdline())
        except psutil.Error:
            continue
        seen.append(f"{proc.pid} {title[:60]}")
        if any(c.raddr and c.raddr.port == port and c.status == psutil.CONN_ESTABLISHED for c in conns):
            found.append(proc)
    if len(found) != 1:
        raise ClusterError(f"expected one task process talking to the model on port {port}: {found}; {seen}")
    return found[0]


def test_a_worker_killed_mid_loop_resumes_without_calling_the_model_again(
    airflow_cluster: AirflowCluster, scheduler_services: SchedulerServices, tmp_path: Path
) -> None:
    services, api = scheduler_services, airflow_cluster.api
    day = TODAY - timedelta(days=20)
    sources = make_sources(tmp_path, [day])
    del sources["rss"]  # commits only: the digest below lists the day's one commit
    repo = sources["git"]["repos"][0]
    digest = (
        f"# Daily digest — {day}\n\n## Commits\n\n- {short_sha(repo, day)} {day}: tune the caps\n\n"
        "## Tech highlights\n\nNothing today.\n\n## Action items (if any)\n\nNone today.\n"
    )
    # Enough for the four calls this run needs, not for two more: paying again for the replayed
    # calls would cross the cap.
    cap = TOKENS_PER_CALL * 4 + 50
    spec = job_spec(
        unique_id("sched_killed"),
        services,
        sources,
        day,
        mode="loop",
        caps={"max_total_tokens": cap, "timeout_s": 120},
        retry_delay_s=2,
    )
    dag_id = airflow_cluster.add_job(spec)
    services.reset_model()
    try:
        services.model.script(
            tool_call("list_files", {"path": "sources"}, **_step_usage()),
            tool_call("read_file", {"path": "sources/git.json"}, **_step_usage()),
            # The third call hangs: the worker is killed while waiting for it.
            slow(600, tool_call("write_file", {"path": "digest.md", "content": digest}, **_step_usage())),
            tool_call("write_file", {"path": "digest.md", "content": digest}, **_step_usage()),
            reply('Written.\nRESULT: {"path": "digest.md", "items": 1}', **_step_usage()),
        )
        api.wait_for_dag(dag_id)
        run_id = api.trigger(dag_id, logical_date=logical_date_of(day))["dag_run_id"]
        poll(lambda: services.model.calls >= 3, timeout=90, what="the third model call of the first try")
        try:
            victim = poll(
                lambda: _quietly(task_process_calling, airflow_cluster, services.model.port),
                timeout=10,
                what="the task process holding the model call",
            )
        except ClusterError:
            victim = task_process_calling(airflow_cluster, services.model.port)  # raises, with what it saw
        os.kill(victim.pid, signal.SIGKILL)
        with airflow_cluster.timed("killed worker: retry to success"):
            api.wait_for_runs(dag_id, [run_id], timeout=150)
        requests = list(services.model.requests)
        pending = services.model.pending
    finally:
        services.reset_model()

    first, second = api.tries(dag_id, run_id, "summarize")
    assert first["state"] in ("failed", "up_for_retry"), first
    assert second["state"] == "success", second
    # Five requests, not seven: the retry asked only what the killed try had not got answered.
    assert len(requests) == 5 and pending == 0
    # Its first live request is the one the kill cut off, word for word: the two replayed
    # answers rebuilt the conversation exactly.
    assert requests[3].body["messages"] == requests[2].body["messages"]
    assert len(requests[2].body["messages"]) > len(requests[1].body["messages"])
    log = airflow_cluster.task_log_tail(dag_id, run_id, "summarize", 2, lines=400)
    assert f"Replayed {COMPLETED_BEFORE_KILL} model call(s)" in log, log
    # Every answered call counted once across both tries: 2 before the kill, 2 after.
    usage = api.xcom(dag_id, run_id, "summarize", key="usage")
    assert usage["iterations"] == 4, usage
    assert usage["total_tokens"] == TOKENS_PER_CALL * 4 <= cap, usage
    assert api.task_states(dag_id, run_id)["validate"] == "success"


def _quietly(find: object, *args: object) -> psutil.Process | None:
    try:
        return find(*args)  # type: ignore[operator]
    except ClusterError:
        return None
