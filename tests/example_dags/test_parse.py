"""The example DAG folder as a DAG processor pointed at it parses it: every file imports without
an error and without a connection, and each holds the DAG its tests run."""

from __future__ import annotations

import pytest

from tests.example_dags.conftest import EXAMPLES

pytestmark = pytest.mark.airflow


def test_the_example_folder_parses_into_its_dags_without_errors(airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(EXAMPLES))
    assert bag.import_errors == {}
    assert set(bag.dag_ids) == {"example_taskflow_agent", "example_agent_operator"}
    triage = bag.get_dag("example_taskflow_agent").get_task("triage")
    assert type(triage).__name__ == "AgentjobsDecoratedOperator" and triage.retries == 2
