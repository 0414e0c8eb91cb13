"""Fan-out throughput: weekly_insights over many teams, the LLM pool at 1, 4 and 16 slots, against a
model endpoint that enforces a requests-per-minute limit. Achieved model requests a minute vs the limit.

The real processes (tests/scheduler/harness.py: api-server, scheduler, dag-processor, triggerer,
LocalExecutor, PostgreSQL metadata DB) run one cluster for the whole sweep. The business
database is a SQLite file of `teams` teams, all in UTC with five weeks of transactions, so one
run at Sunday 09:00 UTC serves every team: a mapped summarize -> validate -> deliver per team,
summarize in the `agentjobs_llm` pool, whose slots are set through the REST API before each run.
Each pool size has its own copy of the shipped spec (its own dag_id), as shipped otherwise:
retries 1, retry_delay_s 120, the agent's model client with the SDK's retries off.

    python bench/fanout_throughput.py [--teams 200] [--rpm 12] [--burst 1] [--hold 3] [--pools 1,4,16]
        [--chunk-size 1,10,slots] [--concurrency 4] [--limiter] [--limiter-rpm 57] [--batch-poll 2]
        [--no-batch]

`--chunk-size` runs each pool size once per chunk size (spec `fan_out.chunk_size`; 1, the default,
is a task chain per team): a chunk's summarize runs its teams' calls `--concurrency` at a time in
one task, so the task overhead is paid per chunk. Its rows name the chunk size, the task instances
the run took and the teams it delivered. `slots` sets `fan_out.chunks` to the pool's slots
instead: each run splits its due teams into that many chunks (200 teams at pool 4: 4 chunks of
50), so every slot carries one chunk for the whole run. `--limiter` sets the connection's own rate limit
(`requests_per_minute` = `--rpm`, its bucket in the ledger database), so calls wait for it
instead of meeting the endpoint's 429s; `--limiter-rpm` sets it to another number (e.g. a little
under the endpoint's, to leave room for the calls' own latency).

Then the same teams in `mode: batch` (its own dag_id, chunked as the sweep's last `--chunk-size` at
its largest pool): every team's request in one Batch API file
on the same loopback server (tests/fakes/batch_api.py: it finishes a batch after four polls, so
the wall time is the machinery's, not OpenAI's hours), the wait in the triggerer polling every
`--batch-poll` seconds, the teams' summarize tasks taking their batch answers. Two rows: its wall
time against the fastest online run's, and each team's cost against an online run's (the Batch
API's half price, from the summarize tasks' own usage).

Why 12 requests a minute: on a 2-core machine a summarize task takes 11-24 s (3 s of it the
model's hold; the rest is the task process, its start-up and its API calls), so one slot
carries about 5 calls a minute, below the limit (the pool is the bound), while 4 slots carry
about 15 and 16 slots about 40, above it (the limit is the bound): the sweep crosses the
limit between 1 and 4 slots. A burst of 1 is an endpoint that enforces its RPM per second.
The goal: ≥0.9 x the endpoint's limit wherever the pool's slots allow it, i.e. against
min(limit, slots x calls in flight a task x 60 / hold): what the slots would carry if a call cost
only the model's answer. Task overhead and limiter waits are not in the bound (an earlier bound,
the slots busy back to back with tasks as long as measured, counted both, so a slow pool met it
against itself); the rows still note what the slots carried so. No team may be lost.
Time: 20 teams take ~17 min for the three pool sizes here, the default; a task chain per team
scales that about tenfold for 200 teams (~3 h on 2 cores). quick=True runs 6 teams.

The full size (issue 24), as a user would set it up:

    python bench/fanout_throughput.py --teams 200 --pools 1,4,16 --chunk-size slots --concurrency 4 \
        --limiter --limiter-rpm 57 --rpm 60

(`--chunk-size 25` is the earlier fixed size: at pool 1 its eight chunks run one after another,
and each boundary leaves the model idle ~6 s, the last call's answer and the next task's start.)

The connection's limiter on at the endpoint's own limit (what a user copies from the provider's
rate-limit page), so calls wait for their turn instead of meeting 429s; chunks of 25 teams, 4
calls at a time, so 200 teams are 8 summarize tasks, not 200, and each chunk's task start-up
(~2 s to its first call here) and its last call's hold are paid 8 times, not 200; 60 requests a
minute, so 200 calls take ~3.3 min a pool size at the limit (4-5 min a run measured): the three
pool sizes and the batch run (~9 min: its teams are a task chain each) fit in ~30 min on 2
shared cores, while a low limit (12) would take ~17 min a pool size and a high one would
measure this machine's CPU instead of the limit. At 4 calls in flight each held 3 s, one chunk
could carry 80 requests a minute: the limit, not the chunk, is the bound. With the limit equal
to the endpoint's, calls that reach it closer than its spacing meet 429s (bench/latest.md):
`--limiter-rpm 57` sets the limiter 5% under it.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from random import Random
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # `common`, `rate_limited_model`
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `tests.scheduler.harness`, `tests.fakes`

import yaml
from common import REPO, Result, markdown_table
from rate_limited_model import RateLimitedModel, Traffic, weekly_insights_answer
from tests.fakes.model_server import RecordedRequest, Step
from tests.scheduler.harness import AirflowCluster, create_database, drop_database

POOL = "agentjobs_llm"
LLM_CONN, BUSINESS_CONN, LEDGER_CONN = "bench_llm", "bench_business", "bench_ledger"
BATCH_LLM_CONN, BATCH_DAG = "bench_llm_batch", "bench_insights_batch"  # the same endpoint, its poll set
# A Sunday: every UTC team's 09:00 is served by the hourly run of this logical date.
SUNDAY_NINE = datetime(2026, 11, 29, 9, tzinfo=UTC)
CATEGORIES = ("software", "travel", "office", "marketing")
GOAL_FRACTION = 0.9
# Teams of a default run: 20 take ~17 min here with a chain per team; 200 in chunks of 25 (the
# docstring's full size) ~4-5 min a pool size, ~3 h with a chain per team.
DEFAULT_TEAMS = 20


@dataclass
class PoolRun:
    slots: int
    teams: int
    chunk_size: int  # teams a chunk task held (the largest chunk); 1: a task chain per team
    task_instances: int  # of the whole run: fetch, the mapped tasks, the alert
    teams_ok: int  # teams whose summary was made (a chunk's outcomes counted one by one)
    wall_s: float
    traffic: Traffic
    summarize_s: list[float]  # duration of each team's last summarize try
    states: dict[str, int]  # final state of the summarize tasks -> count
    retried: int  # summarize tasks that needed more than one try
    failed_by_429: int  # summarize tasks that ended failed with a 429 in their log
    retried_after_429: int  # summarize tries that failed on a 429 (each one retried or failed)
    costs: list[float]  # USD of each successful team's summarize (its usage's cost_usd)
    batch_s: float | None = None  # the batch task's duration (submit, wait, collect); None: online
    in_flight: int = 1  # model calls one summarize task keeps going at once (fan_out.concurrency)
    hold_s: float = 3.0  # how long the endpoint takes to answer one call
    by_slots: bool = False  # fan_out.chunks set to the pool's slots (the chunk size per run)

    @property
    def pool_allows(self) -> float:
        """Requests a minute the pool's slots could carry if a call cost only the model's answer:
        every slot's task keeping its calls in flight back to back. Neither Airflow's task
        overhead nor the limiter's waits are in it: those are what the product is measured on."""
        return self.slots * self.in_flight * 60.0 / self.hold_s if self.hold_s > 0 else float("inf")

    @property
    def slot_busy_rate(self) -> float:
        """Requests a minute the slots did carry, busy back to back with tasks as long as these
        (limiter waits and task overhead included): for the note, not the goal."""
        if not self.summarize_s:
            return 0.0
        calls_per_task = self.teams / len(self.summarize_s)
        busy = min(self.slots, len(self.summarize_s))  # fewer chunks than slots leave slots idle
        return busy * 60.0 * calls_per_task / statistics.mean(self.summarize_s)


def write_business_db(path: Path, teams: int, seed: int = 15) -> None:
    """`teams` UTC teams with no channel or members, and five weeks of transactions each."""
    import sqlalchemy as sa

    from agentjobs.business import schema

    rng = Random(seed)
    engine = sa.create_engine(f"sqlite:///{path}")
    schema.metadata.create_all(engine)
    team_rows, txn_rows = [], []
    first = SUNDAY_NINE.replace(hour=0) - timedelta(days=35)
    for t in range(teams):
        team_id = f"team-{t:03d}"
        team_rows.append({"id": team_id, "name": f"Team {t}", "timezone": "UTC", "currency": "USD"})
        for day in range(35):
            for n in range(2):
                kind = "income" if n == 0 else "expense"
                txn_rows.append(
                    {
                        "id": f"{team_id}-{day}-{n}",
                        "team_id": team_id,
                        "occurred_at": first + timedelta(days=day, hours=10 + n),
                        "kind": kind,
                        "category": "sales" if kind == "income" else rng.choice(CATEGORIES),
                        "amount_cents": rng.randint(1_000, 90_000),
                        "currency": "USD",
                        "description": f"{kind} {day}",
                    }
                )
    with engine.begin() as conn:
        conn.execute(schema.teams.insert(), team_rows)
        conn.execute(schema.transactions.insert(), txn_rows)
    engine.dispose()


def job_spec(
    dag_id: str,
    mode: str = "structured",
    chunk_size: int = 1,
    concurrency: int = 4,
    chunks: int | None = None,
) -> dict[str, Any]:
    """The shipped weekly_insights spec on the benchmark's connections, delivering nowhere."""
    spec = yaml.safe_load((REPO / "include" / "jobs" / "weekly-insights.yaml").read_text())
    spec.update(
        dag_id=dag_id,
        mode=mode,
        llm_conn_id=BATCH_LLM_CONN if mode == "batch" else LLM_CONN,
        ledger_conn_id=LEDGER_CONN,
        sources={"sql": {"conn_id": BUSINESS_CONN}},
        # The throughput of model calls is measured, not Slack's or SMTP's: no targets.
        team_delivery={"slack_conn_id": None, "smtp_conn_id": None, "member_preview": False},
        alert=None,
        pool=POOL,
    )
    if chunks is not None:  # a run's due teams in this many chunks: the pool's slots
        spec["fan_out"] = {"chunks": chunks, "concurrency": concurrency}
    elif chunk_size > 1:
        spec["fan_out"] = {"chunk_size": chunk_size, "concurrency": concurrency}
    return spec


# A sweep's chunking: a chunk size (1: a task chain per team), or SLOTS: `fan_out.chunks` set to
# the pool's slots, so each run's chunk size is the teams due over the slots.
SLOTS = "slots"
Chunking = int | str


def dag_id_for(slots: int, chunk: Chunking) -> str:
    if chunk == SLOTS:
        return f"bench_insights_pool{slots}_chunks{slots}"
    return f"bench_insights_pool{slots}" + (f"_chunk{chunk}" if int(chunk) > 1 else "")


def spec_for(slots: int, chunk: Chunking, concurrency: int) -> dict[str, Any]:
    dag_id = dag_id_for(slots, chunk)
    if chunk == SLOTS:
        return job_spec(dag_id, chunks=slots, concurrency=concurrency)
    return job_spec(dag_id, chunk_size=int(chunk), concurrency=concurrency)


def batch_chunking(chunk: Chunking, slots: int, concurrency: int) -> dict[str, Any]:
    """job_spec's chunking arguments for `chunk` at `slots` slots."""
    if chunk == SLOTS:
        return {"chunks": slots, "concurrency": concurrency}
    return {"chunk_size": int(chunk), "concurrency": concurrency}


def task_instances(cluster: AirflowCluster, dag_id: str, run_id: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    while True:
        page = cluster.api.request(
            "GET",
            f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances",
            params={"limit": 100, "offset": len(found)},
        )
        found.extend(page["task_instances"])
        if not page["task_instances"] or len(found) >= page["total_entries"]:
            return found


def tries_that_saw_429(cluster: AirflowCluster, dag_id: str, run_id: str) -> dict[int, list[bool]]:
    """map index -> for each try of its summarize task, whether its log names an HTTP 429."""
    base = cluster.task_log_dir / f"dag_id={dag_id}" / f"run_id={run_id}" / "task_id=team.summarize"
    seen: dict[int, list[bool]] = {}
    for log in sorted(base.glob("map_index=*/attempt=*.log")):
        index = int(log.parent.name.split("=", 1)[1])
        seen.setdefault(index, []).append("HTTP 429" in log.read_text(errors="replace"))
    return seen


def summarize_costs(
    cluster: AirflowCluster, dag_id: str, run_id: str, tis: list[dict[str, Any]]
) -> list[float]:
    """cost_usd of each successful summarize task's usage (its XCom), one request a team."""
    costs = []
    for ti in tis:
        if ti["state"] != "success":
            continue
        path = f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/team.summarize/xcomEntries/return_value"
        value = cluster.api.request("GET", path, params={"map_index": ti["map_index"]})["value"]
        value = json.loads(value) if isinstance(value, str) else value
        costs.append(float(value["usage"]["cost_usd"]))
    return costs


def batch_answer(key: str, body: dict[str, Any]) -> Step:
    """A batch line answered as the online endpoint answers the same request."""
    return weekly_insights_answer(RecordedRequest("POST", "/v1/chat/completions", {}, body))


def chunk_outcomes(
    cluster: AirflowCluster, dag_id: str, run_id: str, tis: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Each team's outcome as its chunk's summarize pushed it (XCom `teams`), failed chunks' too:
    a success is the agent's usual return value (its `usage`), a failure names its `error`."""
    found: list[dict[str, Any]] = []
    for ti in (t for t in tis if t["map_index"] >= 0 and t["state"] in ("success", "failed")):
        path = f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/team.summarize/xcomEntries/teams"
        try:
            value = cluster.api.request("GET", path, params={"map_index": ti["map_index"]})["value"]
        except Exception:
            continue  # the chunk failed before pushing its outcomes
        outcomes = json.loads(value) if isinstance(value, str) else value
        found.extend(o for o in (outcomes or {}).values() if isinstance(o, dict))
    return found


def chunk_costs(outcomes: list[dict[str, Any]]) -> list[float]:
    """cost_usd of each team whose chunk made its summary."""
    return [float(o["usage"]["cost_usd"]) for o in outcomes if "error" not in o and "usage" in o]


def run_pool(
    cluster: AirflowCluster,
    model: RateLimitedModel,
    slots: int,
    teams: int,
    chunk: Chunking = 1,
    dag_id: str | None = None,
    concurrency: int = 4,
) -> PoolRun:
    dag_id = dag_id or dag_id_for(slots, chunk)
    chunked = chunk == SLOTS or int(chunk) > 1
    chunk_size = (-(-teams // slots) if chunk == SLOTS else int(chunk)) if chunked else 1
    body = {"name": POOL, "slots": slots, "include_deferred": False}
    cluster.api.request("PATCH", f"/pools/{POOL}", json=body, params={"update_mask": "slots"})
    model.reset()
    started = time.monotonic()
    run = cluster.api.trigger(dag_id, logical_date=SUNDAY_NINE, run_id=f"bench_{uuid.uuid4().hex[:6]}")
    # A 429 costs a try and the shipped 120 s retry delay: leave room for two of them.
    (final,) = cluster.api.wait_for_runs(dag_id, [run["dag_run_id"]], timeout=1800 + teams * 6, expect=None)
    wall_s = time.monotonic() - started
    traffic = model.reset()
    every_ti = task_instances(cluster, dag_id, final["dag_run_id"])
    tis = [t for t in every_ti if t["task_id"] == "team.summarize"]
    states: dict[str, int] = {}
    for ti in tis:
        states[str(ti["state"])] = states.get(str(ti["state"]), 0) + 1
    saw_429 = tries_that_saw_429(cluster, dag_id, final["dag_run_id"])
    failed_by_429 = sum(1 for ti in tis if ti["state"] == "failed" and any(saw_429.get(ti["map_index"], [])))
    batch = [t for t in every_ti if t["task_id"] == "batch"]
    if chunked:  # one task a chunk: each team's outcome is in its chunk's XCom
        outcomes = chunk_outcomes(cluster, dag_id, final["dag_run_id"], tis)
        teams_ok, costs = sum(1 for o in outcomes if "error" not in o), chunk_costs(outcomes)
    else:
        teams_ok = sum(1 for t in tis if t["state"] == "success")
        costs = summarize_costs(cluster, dag_id, final["dag_run_id"], tis)
    return PoolRun(
        slots=slots,
        teams=teams,
        chunk_size=chunk_size,
        task_instances=len(every_ti),
        teams_ok=teams_ok,
        wall_s=wall_s,
        traffic=traffic,
        summarize_s=[float(ti["duration"]) for ti in tis if ti.get("duration")],
        states=states,
        retried=sum(1 for ti in tis if ti["try_number"] > 1),
        failed_by_429=failed_by_429,
        retried_after_429=sum(sum(tries) for tries in saw_429.values()),
        costs=costs,
        batch_s=float(batch[0]["duration"] or 0.0) if batch else None,
        in_flight=min(concurrency, chunk_size) if chunked else 1,
        hold_s=model.hold_s,
        by_slots=chunk == SLOTS,
    )


def result(
    run: PoolRun,
    rpm: float,
    hold_s: float,
    burst: int,
    limiter: bool = False,
    limiter_rpm: float | None = None,
) -> Result:
    achieved = run.traffic.requests_per_minute() or 0.0
    bound = min(rpm, run.pool_allows) if run.pool_allows else rpm
    met = achieved >= GOAL_FRACTION * bound and run.failed_by_429 == 0 and run.teams_ok == run.teams
    mean_s = statistics.mean(run.summarize_s) if run.summarize_s else 0.0
    per_task = f"chunks of {run.chunk_size}" if run.chunk_size > 1 else "a task chain per team"
    if run.by_slots:
        # The fetch may make fewer chunks than asked (FanOut.layout_for: no more than the
        # connection's limit keeps busy): the summarize task instances say how many it made.
        made = sum(run.states.values())
        per_task = (
            f"fan_out.chunks {run.slots} (the pool's slots), {made} made: chunks of "
            f"{math.ceil(run.teams / max(1, made))}"
        )
    note = (
        f"{run.teams} teams, {per_task}: {run.teams_ok} summarized, {run.task_instances} task "
        f"instances; limit {rpm:g} req/min (token bucket, burst {burst}), "
        f"each call held {hold_s:g} s; "
        f"pool of {run.slots} allows {run.pool_allows:.0f} req/min ({run.slots} slots x {run.in_flight} "
        f"calls in flight x 60 / {run.hold_s:g} s answer), its slots carried ≈{run.slot_busy_rate:.1f} "
        f"({mean_s:.1f} s mean summarize task); "
        f"served {len(run.traffic.served)}, 429s {len(run.traffic.rejected)}; "
        f"summarize {run.states}; tries failed on a 429 {run.retried_after_429}, tasks retried "
        f"{run.retried}, failed by a 429 {run.failed_by_429}; run {run.wall_s:.0f} s"
    )
    goal = f"≥{GOAL_FRACTION:g} x min(limit, slots' calls), no team lost"
    name = f"pool {run.slots}" + (f", chunk {run.chunk_size}" if run.chunk_size > 1 else "")
    name = f"pool {run.slots}, chunks {run.slots}" if run.by_slots else name
    name += (f", limiter {limiter_rpm or rpm:g}" if limiter_rpm else ", limiter") if limiter else ""
    return Result("fan-out throughput", f"{name}: model req/min", achieved, rpm, "req/min", goal, met, note)


def batch_results(batch: PoolRun, online: list[PoolRun], poll_s: float) -> list[Result]:
    """The batch run's wall time against the fastest online run's, and its cost a team against theirs."""
    fastest = min(online, key=lambda run: run.wall_s)
    served = batch.teams_ok  # teams summarized (a chunk's teams counted one by one)
    note = (
        f"{batch.teams} teams in one batch (the loopback fake ends it after four polls), polled every "
        f"{poll_s:g} s; summarize {batch.states}; online calls {len(batch.traffic.served)}; batch task "
        f"{batch.batch_s or 0:.0f} s; baseline: pool {fastest.slots} online ({fastest.states}). A real "
        "Batch API answers within its 24 h window, usually minutes to hours: this is the machinery's time"
    )
    wall = Result(
        "fan-out throughput", "batch mode: run wall time", batch.wall_s, fastest.wall_s, "s", "-", None, note
    )
    paid = [run for run in online if run.costs]
    mean_online = statistics.mean(c for run in paid for c in run.costs) if paid else None
    mean_batch = statistics.mean(batch.costs) if batch.costs else 0.0
    met = served == batch.teams and mean_online is not None and mean_batch <= 0.5 * mean_online + 1e-12
    cost_note = (
        f"mean cost_usd of a team's summarize (its usage, the connection's prices), {served} of "
        f"{batch.teams} teams answered by the batch, against every online team of the pool runs"
    )
    cost = Result(
        "fan-out throughput",
        "batch mode: cost a team",
        mean_batch,
        mean_online,
        "USD",
        "≤0.5 x online, every team served",
        met,
        cost_note,
    )
    return [wall, cost]


def progress(row: Result) -> None:
    """One finished run's row on stderr, before the sweep's table."""
    print(markdown_table([row]).splitlines()[-1], file=sys.stderr, flush=True)


def measure(
    quick: bool = False,
    teams: int | None = None,
    rpm: float = 12.0,
    hold_s: float = 3.0,
    pools: tuple[int, ...] = (1, 4, 16),
    burst: int = 1,
    batch: bool = True,
    batch_poll_s: float = 2.0,
    chunk_sizes: tuple[Chunking, ...] = (1,),
    concurrency: int = 4,
    limiter: bool = False,
    limiter_rpm: float | None = None,
) -> list[Result]:
    teams = teams or (6 if quick else DEFAULT_TEAMS)
    db_name = f"bench_fanout_{uuid.uuid4().hex[:8]}"
    ledger_db = f"bench_fanout_ledger_{uuid.uuid4().hex[:8]}"
    model = RateLimitedModel(rpm, hold_s, burst=burst).start()
    with tempfile.TemporaryDirectory(prefix="bench-fanout-") as tmp:
        business = Path(tmp) / "business.db"
        write_business_db(business, teams)
        create_database(ledger_db)
        connections = {
            LLM_CONN: {
                "conn_type": "agentjobs_llm",
                "host": model.base_url,
                "password": "sk-bench-not-a-secret",
                "extra": {
                    "model": "rate-limited",
                    "prices": {"*": {"input": 1.0, "output": 4.0}},
                    "timeout": 60,
                    # The connection's shared limiter, its bucket in the ledger database.
                    **({"requests_per_minute": limiter_rpm or rpm} if limiter else {}),
                },
            },
            BUSINESS_CONN: {"conn_type": "sqlite", "host": str(business)},
            BATCH_LLM_CONN: {
                "conn_type": "agentjobs_llm",
                "host": model.base_url,
                "password": "sk-bench-not-a-secret",
                "extra": {
                    "model": "rate-limited",
                    "prices": {"*": {"input": 1.0, "output": 4.0}},
                    "timeout": 60,
                    "batch_poll_s": batch_poll_s,
                },
            },
            LEDGER_CONN: {
                "conn_type": "postgres",
                "host": "127.0.0.1",
                "port": 5432,
                "login": "postgres",
                "schema": ledger_db,
            },
        }
        cluster = AirflowCluster(
            Path(tmp) / "home",
            sql_alchemy_conn=create_database(db_name),
            connections=connections,
            # Room for 16 summarize tasks and the validate / deliver tasks of finished teams.
            parallelism=max(pools) + 4,
            parse_interval_s=5,
            extra_env={
                "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": str(max(pools) + 4),
                # The limiter's bucket: the ledger database every task of the cluster shares.
                **({"AGENTJOBS_LEDGER_CONN_ID": LEDGER_CONN} if limiter else {}),
            },
        )
        try:
            cluster.start()
            cluster.api.ensure_pool(POOL, 1, "bench: model calls at once")
            sweep = [(slots, chunk) for chunk in chunk_sizes for slots in pools]
            for slots, chunk in sweep:
                cluster.add_job(spec_for(slots, chunk, concurrency))
            # Batch mode chunked as the sweep's last chunking at its largest pool (a chain per
            # team without one): its summarize tasks take their answers from the batch.
            batch_chunk = chunk_sizes[-1]
            if batch:
                cluster.add_job(
                    job_spec(BATCH_DAG, mode="batch", **batch_chunking(batch_chunk, max(pools), concurrency))
                )
                model.server.batch_api.answer = batch_answer
            for dag_id in [dag_id_for(slots, chunk) for slots, chunk in sweep] + (
                [BATCH_DAG] if batch else []
            ):
                cluster.api.wait_for_dag(dag_id, timeout=180)
            runs = []
            for slots, chunk in sweep:
                runs.append(run_pool(cluster, model, slots, teams, chunk, concurrency=concurrency))
                # Each row as soon as its run ends: a long sweep cut short keeps what it measured.
                progress(result(runs[-1], rpm, hold_s, burst, limiter, limiter_rpm))
            batched = (
                run_pool(
                    cluster, model, max(pools), teams, batch_chunk, dag_id=BATCH_DAG, concurrency=concurrency
                )
                if batch
                else None
            )
        finally:
            cluster.stop()
            model.stop()
            drop_database(db_name)
            drop_database(ledger_db)
    results = [result(run, rpm, hold_s, burst, limiter, limiter_rpm) for run in runs]
    online = [run for run in runs if run.chunk_size == 1] or runs
    return results + (batch_results(batched, online, batch_poll_s) if batched is not None else [])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teams", type=int, default=DEFAULT_TEAMS)
    parser.add_argument("--rpm", type=float, default=12.0, help="the model endpoint's limit, requests/min")
    parser.add_argument("--hold", type=float, default=3.0, help="seconds the endpoint takes per answer")
    parser.add_argument("--pools", default="1,4,16", help="pool sizes, comma-separated")
    parser.add_argument("--burst", type=int, default=1, help="requests the endpoint admits at once")
    parser.add_argument("--batch-poll", type=float, default=2.0, help="mode: batch's poll interval, s")
    parser.add_argument("--no-batch", action="store_true", help="skip the mode: batch run")
    parser.add_argument(
        "--chunk-size",
        default="1",
        help=f"fan_out.chunk_size values, comma-separated; {SLOTS!r}: fan_out.chunks = the pool's slots",
    )
    parser.add_argument("--concurrency", type=int, default=4, help="fan_out.concurrency of chunked runs")
    parser.add_argument(
        "--limiter", action="store_true", help="set the connection's requests_per_minute to --rpm"
    )
    parser.add_argument(
        "--limiter-rpm",
        type=float,
        help="the connection's requests_per_minute if not --rpm (implies --limiter)",
    )
    args = parser.parse_args()
    pools = tuple(int(p) for p in args.pools.split(","))
    chunk_sizes = tuple(c if c == SLOTS else int(c) for c in args.chunk_size.split(","))
    started = time.monotonic()
    results = measure(
        teams=args.teams,
        rpm=args.rpm,
        hold_s=args.hold,
        pools=pools,
        burst=args.burst,
        batch=not args.no_batch,
        batch_poll_s=args.batch_poll,
        chunk_sizes=chunk_sizes,
        concurrency=args.concurrency,
        limiter=args.limiter or args.limiter_rpm is not None,
        limiter_rpm=args.limiter_rpm,
    )
    print(markdown_table(results))
    print(f"\n(took {time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
