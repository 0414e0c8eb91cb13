"""Which task graph builds a kind's DAG, and the error that names a kind whose graph is none."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentjobs.jobs.kinds import registry
from agentjobs.jobs.spec import load_spec
from agentjobs.operators.digest_graph import DigestGraph
from agentjobs.operators.fan_out_graph import FanOutGraph
from agentjobs.operators.graph import TaskGraph, task_graph

JOBS = Path(__file__).resolve().parents[2] / "include" / "jobs"


def test_the_digest_builds_its_own_graph_and_a_fan_out_kind_the_per_team_one():
    assert isinstance(task_graph(load_spec(JOBS / "daily-digest.yaml")), DigestGraph)
    assert isinstance(task_graph(load_spec(JOBS / "weekly-insights.yaml")), FanOutGraph)
    assert isinstance(task_graph(load_spec(JOBS / "enrichment.yaml")), TaskGraph)


def test_a_kind_naming_something_that_is_not_a_task_graph_is_refused_naming_kind_and_path(monkeypatch):
    spec = load_spec(JOBS / "weekly-insights.yaml")
    where = "agentjobs.operators.graph:FETCH_AND_DELIVER_S"  # importable, but a number
    monkeypatch.setattr(registry, "task_graph", lambda kind: where)
    with pytest.raises(TypeError) as raised:
        task_graph(spec)
    assert str(raised.value) == (
        f"kind 'weekly_insights': {where} is not a TaskGraph (params, dagrun_timeout, build)"
    )
