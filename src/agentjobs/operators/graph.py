"""The one interface through which a kind builds its DAG's tasks (the factory calls nothing else).

A kind names its graph as "module:attribute" (registry.task_graph): every fan-out kind gets the
per-team graph of fan_out_graph.py, the digest and any kind declaring `task_graph`
(capabilities.OwnTaskGraph) its own. The factory builds the DAG around it (schedule, caps,
callbacks, the run's failure alert) and asks the graph for what depends on its shape.
"""

from __future__ import annotations

from datetime import timedelta
from importlib import import_module
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from agentjobs.jobs.spec import JobSpec

FETCH_AND_DELIVER_S = 600  # what a run spends outside its agent tasks, at most


@runtime_checkable
class TaskGraph(Protocol):
    def params(self, spec: JobSpec) -> dict[str, Any]:
        """The DAG Params the graph's tasks read beyond the factory's own (e.g. `teams`)."""
        ...

    def dagrun_timeout(self, spec: JobSpec) -> timedelta:
        """How long a run may take, for a run that uses every budget it has."""
        ...

    def build(self, spec: JobSpec, skills_dir: Path | None) -> None:
        """Create the job's tasks inside the open DAG (the factory adds the failure alert after)."""
        ...


def task_graph(spec: JobSpec) -> TaskGraph:
    """The graph of `spec`'s kind; a TypeError names a kind whose graph is not a TaskGraph."""
    from agentjobs.jobs.kinds.registry import declares, kind
    from agentjobs.jobs.kinds.registry import task_graph as graph_path

    where = graph_path(kind(spec.kind))
    module, attribute = where.split(":")
    graph = getattr(import_module(module), attribute)
    if not declares(graph, TaskGraph):
        raise TypeError(f"kind {spec.kind!r}: {where} is not a TaskGraph (params, dagrun_timeout, build)")
    return graph
