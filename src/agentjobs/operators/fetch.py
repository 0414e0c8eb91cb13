"""FetchSourceOperator: fetch one source for the run's period into a snapshot file.

A rerun of the same period reuses the snapshot (so a clear or a backfill re-summarizes
exactly the same input) unless the run is triggered with the `refetch` Param.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentjobs.jobs.period import Period, job_dir
from agentjobs.jobs.spec import JobSpec
from agentjobs.operators.base_init import init_base
from agentjobs.operators.job_task import JobTaskOperator, run_period

if TYPE_CHECKING:
    from agentjobs.sources.snapshot import SourceSnapshot


class FetchSourceOperator(JobTaskOperator):
    ui_color = "#eef7ee"

    def __init__(self, *, source: str, spec: JobSpec, **kwargs: Any) -> None:
        init_base(self, **kwargs)
        self.spec = spec
        if source not in spec.sources.names():
            raise ValueError(f"job {spec.dag_id!r} has no {source!r} source; it has {spec.sources.names()}")
        self.source = source

    def run(self, context: Any) -> dict[str, Any]:
        from agentjobs.operators.run_files import recorded

        # Run-time only: the snapshot models cost ~3 ms of every DAG parse.
        from agentjobs.sources.snapshot import SOURCES_DIR, SourceSnapshot

        period = run_period(self.spec, context)
        work_dir = job_dir(self.spec.dag_id, period)
        target = work_dir / SOURCES_DIR / f"{self.source}.json"
        if target.exists() and not context["params"].get("refetch", False):
            self.log.info("Reusing the snapshot of %s (trigger with refetch=true to fetch again)", target)
            snapshot = SourceSnapshot.model_validate_json(target.read_text(encoding="utf-8"))
        else:
            self.log.info("Fetching %s for %s .. %s", self.source, period.start, period.end)
            snapshot = fetch_source(self.source, self.spec, period)
            snapshot.write(work_dir)
        for note in snapshot.notes:
            self.log.warning("%s: %s", note.source, note.problem)
        return {
            "source": self.source,
            "snapshot": recorded(target),
            "commits": len(snapshot.commits),
            "pull_requests": len(snapshot.pull_requests),
            "issues": len(snapshot.issues),
            "releases": len(snapshot.releases),
            "entries": len(snapshot.entries),
            "notes": [f"{n.source}: {n.problem}" for n in snapshot.notes],
        }


def fetch_source(source: str, spec: JobSpec, period: Period) -> SourceSnapshot:
    """Fetch one source of `spec` for `period`; source modules are imported only when used."""
    if source == "git" and spec.sources.git is not None:
        from agentjobs.sources.local_git import fetch_local_git

        return fetch_local_git([Path(r) for r in spec.sources.git.repos], period.start, period.end)
    if source == "rss" and spec.sources.rss is not None:
        from agentjobs.sources.rss import fetch_feeds

        return fetch_feeds(spec.sources.rss.feeds, period.start, period.end)
    if source == "github" and spec.sources.github is not None:
        from agentjobs.hooks.github import github_settings
        from agentjobs.sources.github import fetch_github

        token, api_url = github_settings(spec.sources.github.conn_id)
        return fetch_github(spec.sources.github.repos, period.start, period.end, token=token, api_url=api_url)
    raise ValueError(f"unknown source {source!r}")
