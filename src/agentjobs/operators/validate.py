"""ValidateDigestOperator: check digest.md against its RESULT and the snapshot, then publish it.

Its return value, the validated RESULT plus the digest's checksum, is what the delivery
tasks read; the digest is published as an Asset so downstream DAGs can be scheduled on it.
"""

from __future__ import annotations

import hashlib
from typing import Any

from airflow.sdk import Asset

# Modules only a running task needs are imported in the functions that use them: every DAG
# parse imports this module (bench/dag_parse.py).
from agentjobs.agent.errors import ContractViolation
from agentjobs.jobs.artifacts import DIGEST_FILE
from agentjobs.jobs.period import job_dir
from agentjobs.jobs.spec import JobSpec
from agentjobs.operators.base_init import init_base
from agentjobs.operators.job_task import JobTaskOperator, run_period


def digest_asset(dag_id: str) -> Asset:
    # An `x-` scheme is Airflow's mark of a custom URI with no provider normalizer: any other
    # scheme makes the first Asset of a parse import every provider's URI handlers (boto3
    # included), about half the jobs DAG file's parse time (bench/dag_parse.py).
    return Asset(name=f"{dag_id}.digest", uri=f"x-agentjobs://{dag_id}/{DIGEST_FILE}", group="agentjobs")


class ValidateDigestOperator(JobTaskOperator):
    ui_color = "#fff4e0"

    def __init__(self, *, spec: JobSpec, summarize_task_id: str = "summarize", **kwargs: Any) -> None:
        kwargs.setdefault("outlets", [digest_asset(spec.dag_id)])
        init_base(self, **kwargs)
        self.spec = spec
        self.summarize_task_id = summarize_task_id

    def run(self, context: Any) -> dict[str, Any]:
        # Run-time only: the check and the snapshot models cost ~4 ms of every DAG parse.
        from agentjobs.hooks.ledger import run_log
        from agentjobs.jobs.digest_check import check_digest
        from agentjobs.operators import metrics
        from agentjobs.operators.run_files import recorded
        from agentjobs.sources.snapshot import Snapshot

        period = run_period(self.spec, context)
        work_dir = job_dir(self.spec.dag_id, period)
        pushed = context["ti"].xcom_pull(task_ids=self.summarize_task_id)
        if not pushed or not isinstance(pushed.get("result"), dict):
            raise ValueError(f"task {self.summarize_task_id!r} pushed no RESULT; run it before validating")
        result = pushed["result"]
        try:
            markdown = check_digest(
                work_dir,
                result,
                Snapshot.load(work_dir),
                commits_cap=self.spec.commits_cap,
                allow_empty=self.spec.allow_empty,
                job_sections=self.spec.sections,
            )
        except ContractViolation:
            metrics.contract_failure(self.spec.dag_id, self.task_id)
            raise
        sha256 = hashlib.sha256(markdown.encode("utf-8")).hexdigest()
        validated = {
            **result,
            "day": period.key,
            "artifact": recorded(work_dir / DIGEST_FILE),
            "sha256": sha256,
        }
        context["outlet_events"][digest_asset(self.spec.dag_id)].extra = {
            "day": period.key,
            "items": result["items"],
            "artifact": validated["artifact"],
        }
        self.log.info("digest.md for %s is valid: %d items, sha256 %s", period.key, result["items"], sha256)
        run_log(self.spec.ledger_conn_id).record(self.spec.dag_id, context["run_id"], "success")
        return validated
