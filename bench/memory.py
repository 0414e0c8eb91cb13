"""Memory: peak RSS (and PSS) of the task process running one agent task, and of the scheduler and
the DAG processor with every shipped DAG loaded, each against the same process with an empty DAG.

Two clusters of the real processes (tests/scheduler/harness.py), one after the other:
- baseline: a DAG folder holding an EmptyOperator DAG and a DAG whose one task sleeps as long
  as the model holds its answer (a task process doing nothing; an EmptyOperator never runs in
  a worker), and an empty plugins folder;
- agentjobs: the shipped DAG files, every shipped job spec, and one weekly_insights job of one
  team whose summarize call the model server holds for `hold_s`.
Both run with the agentjobs provider installed (it is in the venv), and so both load the UI
page's plugin class through the package's entry point (its app is imported only by the
api-server's first request to it): the ratio is what the DAGs and the jobs add. Processes are
sampled every half second with psutil: the scheduler and the DAG processor by their main process
(their forked workers and parsers are counted separately, as `<name> tree` PSS), the task by its
"airflow worker -- <ti id>" process.

    python bench/memory.py [--hold 20] [--settle 30]
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # `common`, `rate_limited_model`
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `tests.scheduler.harness`, `tests.fakes`

import psutil
from common import REPO, Result, markdown_table
from fanout_throughput import (
    BUSINESS_CONN,
    LEDGER_CONN,
    LLM_CONN,
    POOL,
    SUNDAY_NINE,
    job_spec,
    write_business_db,
)
from rate_limited_model import RateLimitedModel
from tests.scheduler.harness import AirflowCluster, create_database, drop_database

MB = 2**20
TASK_TITLE = "airflow worker -- "  # the task process's title (airflow.sdk.execution_time.task_runner)

_BASELINE_DAGS = '''"""bench/memory.py baseline: an airflow DAG of an EmptyOperator, and a sleeping task."""
import time
from datetime import datetime

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG, task

with DAG("bench_empty", schedule=None, start_date=datetime(2026, 1, 1), catchup=False):
    EmptyOperator(task_id="nothing")

with DAG("bench_sleep", schedule=None, start_date=datetime(2026, 1, 1), catchup=False):

    @task(task_id="sleep")
    def sleep(seconds: float) -> None:
        time.sleep(seconds)

    sleep({hold_s})
'''


@dataclass
class Peak:
    rss_mb: float = 0.0
    pss_mb: float = 0.0

    def see(self, rss: float, pss: float) -> None:
        self.rss_mb, self.pss_mb = max(self.rss_mb, rss / MB), max(self.pss_mb, pss / MB)


@dataclass
class Peaks:
    """Peak memory by what it is: 'scheduler', 'scheduler tree', 'dag-processor', ..., and each task
    process by its task instance id."""

    by_name: dict[str, Peak] = field(default_factory=dict)

    def see(self, name: str, rss: float, pss: float) -> None:
        self.by_name.setdefault(name, Peak()).see(rss, pss)


def sample(cluster: AirflowCluster, peaks: Peaks) -> None:
    for name in ("scheduler", "dag-processor"):
        tree_pss = 0
        for n, member in enumerate(cluster.component_tree(name)):
            with contextlib.suppress(psutil.Error):
                info = member.memory_full_info()
                tree_pss += info.pss
                if n == 0:
                    peaks.see(name, info.rss, info.pss)
                title = " ".join(member.cmdline())
                if title.startswith(TASK_TITLE):
                    peaks.see(title.removeprefix(TASK_TITLE).strip(), info.rss, info.pss)
        peaks.see(f"{name} tree", 0, tree_pss)


@contextlib.contextmanager
def sampling(cluster: AirflowCluster, peaks: Peaks, every_s: float = 0.5) -> Iterator[None]:
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            with contextlib.suppress(Exception):  # a component between two samples is not an error
                sample(cluster, peaks)
            stop.wait(every_s)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=10)


def task_peak(cluster: AirflowCluster, peaks: Peaks, dag_id: str, run_id: str, task_id: str) -> Peak:
    ids = {ti["id"] for ti in cluster.api.task_instances(dag_id, run_id) if ti["task_id"] == task_id}
    found = [peak for name, peak in peaks.by_name.items() if name in ids]
    if not found:
        raise RuntimeError(
            f"no sample of the {task_id} task process of {dag_id}; seen: {sorted(peaks.by_name)}"
        )
    return found[0]


def new_cluster(home: Path, db_name: str, connections: dict, extra_env: dict[str, str]) -> AirflowCluster:
    return AirflowCluster(
        home, sql_alchemy_conn=create_database(db_name), connections=connections, extra_env=extra_env
    )


def measure(quick: bool = False, hold_s: float | None = None, settle_s: float | None = None) -> list[Result]:
    hold_s = hold_s or (10.0 if quick else 20.0)
    settle_s = settle_s or (15.0 if quick else 30.0)
    model = RateLimitedModel(rpm=600, hold_s=hold_s).start()
    suffix = uuid.uuid4().hex[:8]
    dbs = [f"bench_memory_base_{suffix}", f"bench_memory_ours_{suffix}", f"bench_memory_ledger_{suffix}"]
    results: dict[str, tuple[Peak, Peak]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
        root = Path(tmp)
        business = root / "business.db"
        write_business_db(business, teams=1)
        create_database(dbs[2])
        connections = {
            LLM_CONN: {
                "conn_type": "agentjobs_llm",
                "host": model.base_url,
                "password": "sk-bench-not-a-secret",
                "extra": {"model": "held", "prices": {"*": {"input": 1.0, "output": 4.0}}, "timeout": 120},
            },
            BUSINESS_CONN: {"conn_type": "sqlite", "host": str(business)},
            LEDGER_CONN: {
                "conn_type": "postgres",
                "host": "127.0.0.1",
                "port": 5432,
                "login": "postgres",
                "schema": dbs[2],
            },
        }
        try:
            # Baseline: its own DAG folder and no plugins (extra_env overrides the harness's folders).
            base_dags, no_plugins = root / "baseline-dags", root / "no-plugins"
            base_dags.mkdir()
            no_plugins.mkdir()
            (base_dags / "bench_baseline_dags.py").write_text(_BASELINE_DAGS.format(hold_s=hold_s))
            base_env = {
                "AIRFLOW__CORE__DAGS_FOLDER": str(base_dags),
                "AIRFLOW__CORE__PLUGINS_FOLDER": str(no_plugins),
            }
            base, base_peaks = new_cluster(root / "base", dbs[0], connections, base_env), Peaks()
            try:
                base.start()
                with sampling(base, base_peaks):
                    base.api.wait_for_dag("bench_sleep", timeout=180)
                    time.sleep(settle_s)  # the DAG processor's loop parses again; the scheduler settles
                    run = base.api.trigger("bench_sleep", logical_date=None)
                    base.api.wait_for_runs("bench_sleep", [run["dag_run_id"]], timeout=120 + hold_s)
                base_task = task_peak(base, base_peaks, "bench_sleep", run["dag_run_id"], "sleep")
            finally:
                base.stop()
            # agentjobs: every shipped job, and the one we run.
            ours, our_peaks = new_cluster(root / "ours", dbs[1], connections, {}), Peaks()
            try:
                ours.start()
                for shipped in sorted((REPO / "include" / "jobs").glob("*.yaml")):
                    shutil.copy2(shipped, ours.jobs_dir / shipped.name)
                ours.add_job(job_spec("bench_memory_insights"))
                ours.api.ensure_pool(POOL, 1, "bench: model calls at once")
                with sampling(ours, our_peaks):
                    ours.api.wait_for_dag("bench_memory_insights", timeout=180)
                    time.sleep(settle_s)
                    run = ours.api.trigger("bench_memory_insights", logical_date=SUNDAY_NINE)
                    ours.api.wait_for_runs("bench_memory_insights", [run["dag_run_id"]], timeout=180 + hold_s)
                our_task = task_peak(
                    ours, our_peaks, "bench_memory_insights", run["dag_run_id"], "team.summarize"
                )
                dags = len(ours.api.request("GET", "/dags", params={"limit": 100})["dags"])
            finally:
                ours.stop()
        finally:
            model.stop()
            for db in dbs:
                drop_database(db)
    results["task running one agent call"] = (our_task, base_task)
    for name in ("scheduler", "dag-processor"):
        results[name] = (our_peaks.by_name[name], base_peaks.by_name[name])
        results[f"{name} tree"] = (our_peaks.by_name[f"{name} tree"], base_peaks.by_name[f"{name} tree"])
    notes = {
        "task running one agent call": (
            f"team.summarize of weekly_insights (1 team), model answer held {hold_s:g} s; "
            f"baseline: a @task sleeping {hold_s:g} s"
        ),
        "scheduler": f"main process, {dags} DAGs (every shipped job, health, the one run); baseline: "
        "an EmptyOperator DAG and a sleep DAG",
        "dag-processor": f"main process, {dags} DAGs parsed; baseline: one file of those two DAGs",
        "scheduler tree": "PSS of the scheduler and its LocalExecutor workers and tasks",
        "dag-processor tree": "PSS of the DAG processor and its parsing processes",
    }
    rows: list[Result] = []
    for name, (ours_peak, base_peak) in results.items():
        kinds = ["PSS"] if name.endswith("tree") else ["RSS", "PSS"]  # a tree's RSS counts shared pages twice
        for kind in kinds:
            ours_mb, base_mb = (p.rss_mb if kind == "RSS" else p.pss_mb for p in (ours_peak, base_peak))
            rows.append(
                Result("memory", f"{name}: peak {kind}", ours_mb, base_mb, "MB", "n/a", None, notes[name])
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hold", type=float, default=20.0, help="seconds the model holds the agent's call")
    parser.add_argument("--settle", type=float, default=30.0, help="seconds to sample before the run")
    args = parser.parse_args()
    print(markdown_table(measure(hold_s=args.hold, settle_s=args.settle)))


if __name__ == "__main__":
    main()
