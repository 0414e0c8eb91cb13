"""The FastAPI app the api-server mounts at /agentjobs: the runs page, a run's page, their JSON.

Airflow does not put a plugin's routes behind its login, so every route here asks for the
caller with Airflow's own `get_user` (the `Authorization: Bearer` token of the REST API, or the
`_token` cookie the UI sets): no credential is 401, a bad one 403. What a user sees is cut to the
jobs whose task instances and XComs the auth manager lets them read, per DAG.
"""

from __future__ import annotations

from datetime import date
from pathlib import PurePosixPath
from typing import Annotated, Any
from urllib.parse import quote, urlparse

from airflow.api_fastapi.app import get_auth_manager
from airflow.api_fastapi.auth.managers.models.base_user import BaseUser
from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity, DagDetails
from airflow.api_fastapi.common.db.common import SessionDep
from airflow.api_fastapi.core_api.security import GetUserDep, requires_access_dag
from airflow.configuration import conf
from airflow.models.dag import DagModel
from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from agentjobs.delivery.email import safe_html_fragment
from agentjobs.jobs.health import JobHealth
from agentjobs.jobs.spec import JobSpec
from agentjobs.ui import evals, files, queries, render
from agentjobs.ui.records import AgentRun, daily_usage

# No script at all, styles only inline, nothing from elsewhere; framed by the Airflow UI only.
CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'self'; base-uri 'none'"
)
# A run folder's files are served as data to download, never as a page of this origin.
MEDIA_TYPES = {".pdf": "application/pdf", ".md": "text/plain", ".txt": "text/plain", ".json": "text/plain"}
NOT_SERVED = {files.TRANSCRIPT_FILE}  # the page summarizes it; the prompts it holds stay on disk
RUN_ACCESS = [
    Depends(requires_access_dag("GET", DagAccessEntity.TASK_INSTANCE)),
    Depends(requires_access_dag("GET", DagAccessEntity.XCOM)),
]

app = FastAPI(
    title="agentjobs runs",
    description="What every agent job did, what it cost and where it went (read-only).",
)


@app.middleware("http")
async def _security_headers(request: Request, call_next: Any) -> Response:
    response = await call_next(request)
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    return response


@app.exception_handler(StarletteHTTPException)
async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
    """JSON for the API; for a page, a 401 says where to log in (the status stays 401)."""
    if exc.status_code == 401 and not request.url.path.startswith(f"{_prefix(request)}/api/"):
        try:
            login_url = get_auth_manager().get_url_login()
        except Exception:  # no auth manager to ask: the Airflow root still leads to its login
            login_url = f"{_airflow_root()}/"
        return HTMLResponse(render.login_page(login_url), status_code=401)
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)


def _prefix(request: Request) -> str:
    """Where this app is mounted (/agentjobs under the api-server; empty in a bare test client)."""
    return str(request.scope.get("root_path") or "").rstrip("/")


def _airflow_root() -> str:
    """The path of the Airflow UI (its base_url's path; empty when served at /)."""
    return urlparse(conf.get("api", "base_url", fallback="") or "").path.rstrip("/")


def readable_jobs(user: BaseUser, jobs: dict[str, JobSpec]) -> list[str]:
    """The jobs whose task instances and XComs `user` may read, per DAG, by the auth manager."""
    manager = get_auth_manager()
    readable = []
    for dag_id in sorted(jobs):
        details = DagDetails(id=dag_id, team_name=DagModel.get_team_name(dag_id))
        if all(
            manager.is_authorized_dag(method="GET", access_entity=entity, details=details, user=user)
            for entity in (DagAccessEntity.TASK_INSTANCE, DagAccessEntity.XCOM)
        ):
            readable.append(dag_id)
    return readable


class RunsView:
    """The runs table, the health panel and the daily chart for one request's filters."""

    def __init__(
        self, session: Any, user: BaseUser, job: str | None, since: str | None, until: str | None
    ) -> None:
        self.since, self.until = _day("since", since), _day("until", until)
        self.jobs = queries.load_jobs()
        self.readable = readable_jobs(user, self.jobs)
        wanted = [j for j in self.readable if job in (None, "", j)]
        self.problems: list[str] = []  # ledgers or run logs that could not be read, shown as such
        if not self.jobs:  # the api-server reads another folder than the DAG processor, or none
            self.problems.append(
                f"no job specs in {queries.specs_folder()}: give the api-server the DAG processor's "
                "AGENTJOBS_JOBS_DIR"
            )
        self.runs = queries.agent_runs(
            session, self.jobs, wanted, since=self.since, until=self.until, problems=self.problems
        )
        self.health: list[JobHealth] = queries.health(self.jobs, wanted, problems=self.problems)
        self.usage = daily_usage(self.runs)


Job = Annotated[str | None, Query(description="only this job (its dag_id)")]
Since = Annotated[str | None, Query(description="logical dates from this day (UTC), YYYY-MM-DD")]
Until = Annotated[str | None, Query(description="logical dates up to this day (UTC), inclusive")]


def _day(name: str, value: str | None) -> date | None:
    """A filter's day; the page's form sends an empty field for "any"."""
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise HTTPException(422, f"{name}={value!r} is not a day; use YYYY-MM-DD, e.g. 2026-11-24") from None


@app.get("/", response_class=HTMLResponse)
def runs_page(
    request: Request,
    session: SessionDep,
    user: GetUserDep,
    job: Job = None,
    since: Since = None,
    until: Until = None,
) -> HTMLResponse:
    view = RunsView(session, user, job, since, until)
    html = render.runs_page(
        prefix=_prefix(request),
        runs=view.runs,
        health=view.health,
        usage=view.usage,
        jobs=view.readable,
        job=job or None,
        since=view.since,
        until=view.until,
        problems=view.problems,
    )
    return HTMLResponse(html)


@app.get("/api/runs")
def runs_json(
    session: SessionDep, user: GetUserDep, job: Job = None, since: Since = None, until: Until = None
) -> dict[str, Any]:
    view = RunsView(session, user, job, since, until)
    return {
        "problems": view.problems,
        "runs": [run.as_json() for run in view.runs],
        "health": [_health_json(h) for h in view.health],
        "usage": [
            {
                "day": u.day.isoformat(),
                "job": u.job,
                "tokens": u.tokens,
                "cost_usd": u.cost_usd,
                "runs": u.runs,
            }
            for u in view.usage
        ],
    }


def _health_json(h: JobHealth) -> dict[str, Any]:
    return {
        "job": h.job,
        "last_success": h.last_success.isoformat() if h.last_success else None,
        "next_expected": h.next_expected.isoformat(),
        "overdue": h.overdue,
        "overdue_since": h.overdue_since.isoformat() if h.overdue_since else None,
        "failure_streak": h.failed_runs,
    }


def _one_run(
    session: Any, dag_id: str, run_id: str, task_id: str, map_index: int, team: str | None = None
) -> tuple[AgentRun, JobSpec]:
    jobs = queries.load_jobs()
    spec = jobs.get(dag_id)
    found = (
        queries.agent_runs(
            session, jobs, [dag_id], run_id=run_id, task_id=task_id, map_index=map_index, limit=1
        )
        if spec is not None and task_id in queries.VALIDATE_OF
        else []
    )
    if team is not None:  # a chunk's task is a row per team (ui/chunk_rows.py)
        found = [run for run in found if run.team == team]
    if not found or spec is None:
        raise HTTPException(404, f"no agent run {task_id} of {dag_id} run {run_id} (map index {map_index})")
    return found[0], spec


MapIndex = Annotated[int, Query(description="the team's map index (-1: not mapped)")]
Team = Annotated[str | None, Query(description="the team, of a chunk's several (fan_out.chunk_size)")]


@app.get("/runs/{dag_id}/{run_id}/{task_id}", response_class=HTMLResponse, dependencies=RUN_ACCESS)
def run_page(
    request: Request,
    session: SessionDep,
    dag_id: str,
    run_id: str,
    task_id: str,
    map_index: MapIndex = -1,
    team: Team = None,
) -> HTMLResponse:
    run, spec = _one_run(session, dag_id, run_id, task_id, map_index, team)
    folder = files.run_folder(run.job, run.period, run.team)
    name = files.artifact_name(spec.kind)
    markdown = files.read_artifact(folder, name)
    summary = files.summarize_transcript(folder)
    html = render.run_page(
        prefix=_prefix(request),
        run=run,
        links=render.airflow_links(_airflow_root(), run),
        artifact_name=name,
        artifact_html=None if markdown is None else safe_html_fragment(markdown),
        transcript=summary.as_json() if summary else None,
        files=[(n, size) for n, size in files.listed_files(folder) if n not in NOT_SERVED],
    )
    return HTMLResponse(html)


@app.get("/api/runs/{dag_id}/{run_id}/{task_id}", dependencies=RUN_ACCESS)
def run_json(
    session: SessionDep, dag_id: str, run_id: str, task_id: str, map_index: MapIndex = -1, team: Team = None
) -> dict[str, Any]:
    run, spec = _one_run(session, dag_id, run_id, task_id, map_index, team)
    folder = files.run_folder(run.job, run.period, run.team)
    summary = files.summarize_transcript(folder)
    return {
        "run": run.as_json(),
        "artifact": files.artifact_name(spec.kind),
        "transcript": summary.as_json() if summary else None,
        "files": [
            {"name": n, "bytes": size} for n, size in files.listed_files(folder) if n not in NOT_SERVED
        ],
        "links": render.airflow_links(_airflow_root(), run),
    }


@app.get("/runs/{dag_id}/{run_id}/{task_id}/files/{name}", dependencies=RUN_ACCESS)
def run_file(
    session: SessionDep,
    dag_id: str,
    run_id: str,
    task_id: str,
    name: str,
    map_index: MapIndex = -1,
    team: Team = None,
) -> Response:
    run, _spec = _one_run(session, dag_id, run_id, task_id, map_index, team)
    folder = files.run_folder(run.job, run.period, run.team)
    response: Response
    if isinstance(folder, files.StoredFolder):  # on the run-file store: no file on this host to send
        found = files.stored_file(folder, name) if name not in NOT_SERVED else None
        if found is None:
            raise HTTPException(404, f"no file {name!r} in the run folder")
        with folder.open(found) as handle:
            response = Response(handle.read(), media_type=_media_type(found))
        response.headers["Content-Disposition"] = f"attachment; filename*=utf-8''{quote(found)}"
    else:
        path = files.contained_file(folder, name) if folder is not None and name not in NOT_SERVED else None
        if path is None:
            raise HTTPException(404, f"no file {name!r} in the run folder")
        response = FileResponse(path, media_type=_media_type(path.name), filename=path.name)
    response.headers["Content-Security-Policy"] = "sandbox; default-src 'none'"
    return response


def _evaluations(dag_id: str) -> tuple[list[Any], list[str]]:
    """The job's replay evaluations (`agentjobs eval`), read where the command keeps them: on the
    run-file store when one is configured (as the runs are), else the artifact base. 404 for no
    job; 502 naming the store's URL when it refuses the read (never an empty list)."""
    from agentjobs.hooks.run_file_store import configured_store
    from agentjobs.hooks.stored_evals import StoreReadError, load_stored_evaluations
    from agentjobs.jobs.evaluation import load_evaluations

    if dag_id not in queries.load_jobs():
        raise HTTPException(404, f"no job {dag_id!r}")
    store = configured_store()
    if store is None:
        return load_evaluations(dag_id)
    try:
        return load_stored_evaluations(store, dag_id)
    except StoreReadError as exc:
        raise HTTPException(502, str(exc)) from None


@app.get("/evals/{dag_id}", response_class=HTMLResponse, dependencies=RUN_ACCESS)
def evals_page(request: Request, dag_id: str) -> HTMLResponse:
    found, broken = _evaluations(dag_id)
    return HTMLResponse(
        evals.evals_page(prefix=_prefix(request), job=dag_id, evaluations=found, broken=broken)
    )


@app.get("/api/evals/{dag_id}", dependencies=RUN_ACCESS)
def evals_json(dag_id: str) -> dict[str, Any]:
    found, broken = _evaluations(dag_id)
    return {"job": dag_id, "evaluations": [e.as_json() for e in found], "problems": broken}


def _media_type(name: str) -> str:
    return MEDIA_TYPES.get(PurePosixPath(name).suffix.lower(), "application/octet-stream")
