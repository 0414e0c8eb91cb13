"""A broken job spec under the real DAG processor: an import error naming the file and the
field, on agentjobs_spec_errors.py alone, while the other jobs stay scheduled."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.scheduler.conftest import SchedulerServices
from tests.scheduler.harness import DAG_FILE, SPEC_ERRORS_FILE, AirflowCluster
from tests.scheduler.jobs import TODAY, job_spec, make_sources, unique_id

pytestmark = [pytest.mark.slow, pytest.mark.scheduler, pytest.mark.timeout(300)]


def _wait(what: str, check: Any, timeout: float = 90.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(1)
    raise AssertionError(f"not within {timeout:.0f}s: {what}")


def _last_parsed(api: Any, dag_id: str) -> datetime:
    stamp = (api.get_dag(dag_id) or {}).get("last_parsed_time") or "1970-01-01T00:00:00+00:00"
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def test_a_broken_spec_is_one_import_error_and_the_other_jobs_stay(
    airflow_cluster: AirflowCluster, scheduler_services: SchedulerServices, tmp_path: Path
) -> None:
    api = airflow_cluster.api
    good = job_spec(unique_id("sched_good"), scheduler_services, make_sources(tmp_path, [TODAY]), TODAY)
    airflow_cluster.add_job(good)
    api.wait_for_dag(good["dag_id"])
    broken_id = unique_id("sched_broken")
    broken = airflow_cluster.jobs_dir / f"{broken_id}.yaml"
    broken.write_text(yaml.safe_dump({**good, "dag_id": broken_id, "schedule": "nightly"}))

    def touch() -> None:
        for dag_file in (DAG_FILE, SPEC_ERRORS_FILE):
            (airflow_cluster.dags_dir / dag_file.name).touch()

    try:
        touch()
        (error,) = _wait("the broken spec's import error", api.import_errors)
        assert error["filename"].endswith(SPEC_ERRORS_FILE.name)
        assert f"{broken_id}.yaml: invalid job spec: field 'schedule'" in error["stack_trace"]
        # Both files parsed again since: the good job is still active, the broken one never was.
        parsed_before = datetime.now(UTC)
        _wait("another parse of the jobs DAG file", lambda: _last_parsed(api, good["dag_id"]) > parsed_before)
        dag = api.get_dag(good["dag_id"])
        assert dag is not None and not dag["is_stale"] and not dag["has_import_errors"]
        assert api.get_dag(broken_id) is None
    finally:
        broken.unlink(missing_ok=True)
        touch()
    _wait("the import error to clear once the spec is gone", lambda: api.import_errors() == [])
