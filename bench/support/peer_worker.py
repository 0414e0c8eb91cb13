"""The peer's side of bench/loop_overhead.py, run by the peer's own venv (bench/.cache/peer-venv).

    peer-venv/bin/python bench/support/peer_worker.py BASE_URL SYSTEM_PROMPT_FILE

apache-airflow-providers-common-ai's AgentOperator (pydantic-ai underneath) runs the same
conversation as the other sides: its `execute` is called with a minimal stand-in for the task
context (a task instance whose XCom pushes go nowhere), the LLM connection comes from an
AIRFLOW_CONN_* variable, and the tool is a pydantic-ai FunctionToolset. Everything the
operator does per task (building the agent through PydanticAIHook, masking tool results,
tool logging, usage bookkeeping) is inside the timed part, as ours is. Protocol as
bench/support/loop_worker.py: `ready`, then one JSON line per `run N` (wall and CPU seconds).
Imports nothing from agentjobs: this venv does not have it.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

MODEL = "bench-zero-latency"  # as bench/support/loop_script.py
USER_PROMPT = "Add one, nine times, with the add tool, starting from 0; then report the sum."
CONN_ID = "bench_llm"


def add(a: int, b: int) -> str:
    """Return a + b."""
    return str(a + b)


class _TaskInstance:
    """What AgentOperator.execute reads of a task instance; XCom pushes are kept in memory."""

    def __init__(self) -> None:
        self.dag_id, self.task_id, self.run_id = "bench_peer", "agent", "bench__run"
        self.try_number, self.map_index, self.max_tries = 1, -1, 0
        self.id = uuid.uuid4()
        self.xcom: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcom[key] = value


def main() -> None:
    base_url, system_file = sys.argv[1], Path(sys.argv[2])
    # The operator logs (tool calls, usage) to stdout, as into a task's log; the protocol keeps
    # the real stdout to itself and everything else goes to stderr.
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    home = tempfile.mkdtemp(prefix="bench-peer-airflow-")
    os.environ.setdefault("AIRFLOW_HOME", home)
    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    os.environ[f"AIRFLOW_CONN_{CONN_ID.upper()}"] = json.dumps(
        {
            "conn_type": "pydanticai",
            "host": base_url,
            "password": "bench",
            "extra": {"model": f"openai-chat:{MODEL}"},
        }
    )
    from airflow.providers.common.ai.operators.agent import AgentOperator
    from pydantic_ai.toolsets import FunctionToolset

    operator = AgentOperator(
        task_id="agent",
        prompt=USER_PROMPT,
        llm_conn_id=CONN_ID,
        system_prompt=system_file.read_text(encoding="utf-8"),
        toolsets=[FunctionToolset([add])],
    )

    def conversation() -> int:
        ti = _TaskInstance()
        output = operator.execute({"task_instance": ti, "ti": ti})
        assert "RESULT" in str(output), output
        return int(operator._run_usage.requests)  # type: ignore[union-attr]

    conversation()
    print("ready", file=protocol, flush=True)
    for line in sys.stdin:
        count = int(line.split()[1])
        started, cpu_started = time.perf_counter(), time.process_time()
        calls = sum(conversation() for _ in range(count))
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        print(json.dumps({"seconds": seconds, "cpu_seconds": cpu, "calls": calls}), file=protocol, flush=True)


if __name__ == "__main__":
    main()
