"""The pages as HTML: every value escaped, no script, no asset from anywhere else.

Job names, teams, targets, models, errors and RESULT values come from specs, databases and
models: they are text and are only ever written escaped. The artifact is rendered by the same
inert markdown renderer as the email delivery. Cells carry `data-field` names so a reader (or
a test) finds a number without parsing the layout.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date, datetime
from html import escape
from typing import Any
from urllib.parse import quote, urlencode

from agentjobs.jobs.health import JobHealth
from agentjobs.ui.records import AgentRun, DailyUsage, Delivery

STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:16px;color:#1b1f24;background:#fff}
h1{font-size:20px;margin:0 0 12px}h2{font-size:16px;margin:20px 0 8px}
table{border-collapse:collapse;width:100%}th,td{border-bottom:1px solid #e3e6ea;padding:4px 8px;
text-align:left;vertical-align:top}th{background:#f4f6f8;font-weight:600}td.n{text-align:right;
font-variant-numeric:tabular-nums}.state{padding:1px 6px;border-radius:8px;font-size:12px}
.success,.passed,.sent{background:#dcf5e3}.failed,.up_for_retry{background:#fde2e1}
.running,.queued,.pending,.sending{background:#e3edfd}.bad{color:#b42318;font-weight:600}
.bar{display:inline-block;height:10px;background:#4c7bd9;vertical-align:middle}
.bar.cost{background:#d98b4c}form{margin:0 0 12px}form label{margin-right:12px}
.artifact{border:1px solid #e3e6ea;padding:8px 16px;border-radius:6px}pre{white-space:pre-wrap;
background:#f7f8fa;padding:8px;border-radius:6px}a{color:#2458b3}.muted{color:#6b7280}
"""


def _e(value: Any) -> str:
    return escape("" if value is None else str(value), quote=True)


def fmt_cost(cost: float) -> str:
    return f"${cost:.6f}"


def fmt_when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "—"


def page(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{_e(title)}</title><style>{STYLE}</style></head><body>{body}</body></html>"
    )


def run_href(prefix: str, run: AgentRun) -> str:
    path = "/".join(quote(part, safe="") for part in (run.job, run.run_id, run.task_id))
    return f"{prefix}/runs/{path}?{_run_query(run)}"


def _run_query(run: AgentRun) -> str:
    """Which row of the task: its map index, and its team (a chunk's task is a row per team)."""
    return f"map_index={run.map_index}" + (f"&team={quote(run.team, safe='')}" if run.team else "")


def _state(value: str | None) -> str:
    text = value or "none"
    return f'<span class="state {_e(text.replace(" ", "_"))}">{_e(text)}</span>'


def _deliveries(deliveries: Iterable[Delivery]) -> str:
    items = [
        f'<div data-field="delivery">{_e(d.channel)} → {_e(d.target)}: {_state(d.status)} '
        f'<span class="muted">{_e(fmt_when(d.at))}</span></div>'
        for d in deliveries
    ]
    return "".join(items) or '<span class="muted">none</span>'


def _filters(prefix: str, jobs: list[str], job: str | None, since: date | None, until: date | None) -> str:
    options = ['<option value="">all jobs</option>'] + [
        f'<option value="{_e(name)}"{" selected" if name == job else ""}>{_e(name)}</option>' for name in jobs
    ]
    return (
        f'<form method="get" action="{_e(prefix)}/">'
        f'<label>Job <select name="job">{"".join(options)}</select></label>'
        f'<label>From <input type="date" name="since" value="{_e(since or "")}"></label>'
        f'<label>To <input type="date" name="until" value="{_e(until or "")}"></label>'
        '<button type="submit">Filter</button></form>'
    )


def _health(rows: list[JobHealth]) -> str:
    if not rows:
        return '<p class="muted">No job specs found.</p>'
    body = []
    for h in rows:
        overdue = (
            f'<span class="bad">overdue since {_e(fmt_when(h.overdue_since))}</span>' if h.overdue else "no"
        )
        streak = f'<span class="bad">{h.failed_runs}</span>' if h.failing else str(h.failed_runs)
        body.append(
            f'<tr data-job="{_e(h.job)}"><td>{_e(h.job)}</td>'
            f'<td data-field="last_success">{_e(fmt_when(h.last_success))}</td>'
            f'<td data-field="next_expected">{_e(fmt_when(h.next_expected))}</td>'
            f'<td data-field="overdue">{overdue}</td>'
            f'<td class="n" data-field="failure_streak">{streak}</td></tr>'
        )
    return (
        '<table id="health"><tr><th>Job</th><th>Last success</th><th>Next expected</th>'
        "<th>Overdue</th><th>Failed runs since last success</th></tr>" + "".join(body) + "</table>"
    )


def _chart(rows: list[DailyUsage]) -> str:
    if not rows:
        return '<p class="muted">No usage recorded.</p>'
    most_tokens = max(r.tokens for r in rows) or 1
    most_cost = max(r.cost_usd for r in rows) or 1.0
    body = []
    for r in rows:
        tokens_px = round(200 * r.tokens / most_tokens)
        cost_px = round(200 * r.cost_usd / most_cost)
        body.append(
            f'<tr data-day="{r.day.isoformat()}" data-job="{_e(r.job)}"><td>{r.day.isoformat()}</td>'
            f"<td>{_e(r.job)}</td>"
            f'<td><span class="bar" style="width:{tokens_px}px"></span> '
            f'<span data-field="tokens">{r.tokens}</span></td>'
            f'<td><span class="bar cost" style="width:{cost_px}px"></span> '
            f'<span data-field="cost">{fmt_cost(r.cost_usd)}</span></td></tr>'
        )
    return (
        '<table id="usage"><tr><th>Day</th><th>Job</th><th>Tokens (in + out)</th><th>Cost</th></tr>'
        + "".join(body)
        + "</table>"
    )


def _failover_note(run: AgentRun) -> str:
    """Beside the model in the runs table: the connection that answered after a failover."""
    if not run.failovers:
        return ""
    return f' <span class="muted" data-field="failed_over">via {_e(run.answered_by or "?")}</span>'


def _failed_step(run: AgentRun) -> str:
    """Beside the agent's state: the team's later step that failed (its page says why)."""
    if not run.failed_step:
        return ""
    return f' <span class="bad" data-field="failed_step">{_e(run.failed_step)} failed</span>'


def _run_row(prefix: str, run: AgentRun) -> str:
    contract = run.contract
    return (
        f'<tr data-run="{_e(run.job)}|{_e(run.run_id)}|{_e(run.task_id)}|{run.map_index}">'
        f'<td data-field="job"><a href="{_e(run_href(prefix, run))}">{_e(run.job)}</a>'
        + (f' <span class="muted" data-field="team">{_e(run.team)}</span>' if run.team else "")
        + f'</td><td data-field="logical_date">{_e(fmt_when(run.logical_date or run.run_after))}</td>'
        f'<td data-field="state">{_state(run.state)}{_failed_step(run)}</td>'
        f'<td class="n" data-field="iterations">{run.iterations}</td>'
        f'<td class="n" data-field="prompt_tokens">{run.prompt_tokens}</td>'
        f'<td class="n" data-field="completion_tokens">{run.completion_tokens}</td>'
        f'<td class="n" data-field="cost">{fmt_cost(run.cost_usd)}</td>'
        f'<td data-field="model">{_e(run.model or "—")}{_failover_note(run)}</td>'
        f'<td data-field="contract">{_state(contract)}</td>'
        f'<td class="n" data-field="items">{"—" if run.items is None else run.items}</td>'
        f"<td>{_deliveries(run.deliveries)}</td></tr>"
    )


def runs_page(
    *,
    prefix: str,
    runs: list[AgentRun],
    health: list[JobHealth],
    usage: list[DailyUsage],
    jobs: list[str],
    job: str | None,
    since: date | None,
    until: date | None,
    problems: list[str] | None = None,
) -> str:
    notices = "".join(f'<p class="bad" data-field="problem">{_e(p)}</p>' for p in problems or ())
    header = (
        "<tr><th>Job</th><th>Logical date</th><th>State</th><th>Iterations</th><th>Tokens in</th>"
        "<th>Tokens out</th><th>Cost</th><th>Model</th><th>Contract</th><th>Items</th>"
        "<th>Deliveries</th></tr>"
    )
    rows = "".join(_run_row(prefix, run) for run in runs)
    table = (
        f'<table id="runs">{header}{rows}</table>' if runs else '<p class="muted">No agent runs match.</p>'
    )
    api = f"{prefix}/api/runs?" + urlencode(
        {k: v for k, v in (("job", job), ("since", since), ("until", until)) if v}
    )
    body = (
        "<h1>Agent runs</h1>"
        + _filters(prefix, jobs, job, since, until)
        + notices
        + "<h2>Job health</h2>"
        + _health(health)
        + "<h2>Tokens and cost per job per day</h2>"
        + _chart(usage)
        + f"<h2>Runs ({len(runs)})</h2>"
        + table
        + f'<p class="muted">The same as JSON: <a href="{_e(api)}">{_e(api)}</a></p>'
        + _evals_links(prefix, [job] if job else jobs)
    )
    return page("agentjobs: agent runs", body)


def _evals_links(prefix: str, jobs: list[str]) -> str:
    """Links to each job's replay evaluations (`agentjobs eval`, ui/evals.py)."""
    if not jobs:
        return ""
    links = " · ".join(f'<a href="{_e(prefix)}/evals/{_e(quote(j, safe=""))}">{_e(j)}</a>' for j in jobs)
    return f'<p class="muted" data-field="evals">Replay evaluations: {links}</p>'


def airflow_links(airflow_root: str, run: AgentRun) -> dict[str, str]:
    """The Airflow UI's page of the task instance, and its log (the page's first tab)."""
    parts = [quote(p, safe="") for p in (run.job, run.run_id, run.task_id)]
    ti = f"{airflow_root}/dags/{parts[0]}/runs/{parts[1]}/tasks/{parts[2]}"
    if run.map_index >= 0:
        ti += f"/mapped/{run.map_index}"
    return {"task_instance": f"{ti}/details", "log": f"{ti}?try_number={max(run.try_number, 1)}"}


def run_page(
    *,
    prefix: str,
    run: AgentRun,
    links: dict[str, str],
    artifact_name: str,
    artifact_html: str | None,
    transcript: dict[str, Any] | None,
    files: list[tuple[str, int]],
) -> str:
    facts = [
        ("Job", run.job, "job"),
        ("Team", run.team or "—", "team"),
        ("Run", run.run_id, "run_id"),
        ("Logical date", fmt_when(run.logical_date), "logical_date"),
        ("Day", run.period or "—", "period"),
        ("Task", f"{run.task_id} (try {run.try_number})", "task"),
        ("State", run.state or "none", "state"),
        ("Model", run.model or "—", "model"),
        ("Iterations", run.iterations, "iterations"),
        ("Tokens in / out", f"{run.prompt_tokens} / {run.completion_tokens}", "tokens"),
        ("Cost", fmt_cost(run.cost_usd), "cost"),
        ("Contract", run.contract, "contract"),
        ("Items", "—" if run.items is None else run.items, "items"),
    ]
    if run.answered_by:
        facts.append(("Answered by", run.answered_by, "answered_by"))
    facts += [
        (f"Failover {n}", f"{m.get('from')} → {m.get('to')}: {m.get('reason')}", "failover")
        for n, m in enumerate(run.failovers, 1)
    ]
    rows = "".join(f'<tr><th>{_e(k)}</th><td data-field="{f}">{_e(v)}</td></tr>' for k, v, f in facts)
    if run.failed_step:
        step = _e(run.failed_step)
        rows += f'<tr><th>Failed step</th><td class="bad" data-field="failed_step">{step}</td></tr>'
    if run.error:
        rows += f'<tr><th>Error</th><td class="bad" data-field="error">{_e(run.error)}</td></tr>'
    result = json.dumps(run.result, indent=2, sort_keys=True, ensure_ascii=False) if run.result else "none"
    if transcript:
        events = ", ".join(f"{_e(k)}: {v}" for k, v in sorted(transcript["events"].items())) or "none"
        tools = ", ".join(f"{_e(k)}: {v}" for k, v in sorted(transcript["tool_calls"].items())) or "none"
        summary = (
            f'<p data-field="transcript_events">Events: {events}</p>'
            f'<p data-field="transcript_tools">Tool calls: {tools}'
            f" ({transcript['failed_tool_calls']} failed)</p>"
        )
    else:
        summary = '<p class="muted">No transcript in the run folder.</p>'
    file_items = "".join(
        f'<li><a href="{_e(run_href(prefix, run).split("?")[0])}/files/{_e(quote(name, safe=""))}'
        f'?{_e(_run_query(run))}">{_e(name)}</a> <span class="muted">{size} bytes</span></li>'
        for name, size in files
    )
    artifact = (
        f'<div class="artifact" id="artifact">{artifact_html}</div>'
        if artifact_html is not None
        else f'<p class="muted">No {_e(artifact_name)} in the run folder.</p>'
    )
    body = (
        f'<p><a href="{_e(prefix)}/">← all agent runs</a> · '
        f'<a href="{_e(links["task_instance"])}" target="_top">task instance in Airflow</a> · '
        f'<a href="{_e(links["log"])}" target="_top">task log</a></p>'
        f"<h1>{_e(run.job)} — {_e(run.period or fmt_when(run.logical_date))}</h1>"
        f'<table id="facts">{rows}</table>'
        "<h2>Deliveries</h2>"
        + _deliveries(run.deliveries)
        + "<h2>RESULT</h2>"
        + f'<pre id="result">{_e(result)}</pre>'
        + "<h2>Transcript</h2>"
        + summary
        + f"<h2>Files</h2><ul>{file_items or '<li class=muted>none</li>'}</ul>"
        + f"<h2>{_e(artifact_name)}</h2>"
        + artifact
    )
    return page(f"agentjobs: {run.job} {run.period or ''}", body)


def login_page(login_url: str) -> str:
    return page(
        "agentjobs: log in",
        f'<h1>Not logged in</h1><p><a href="{_e(login_url)}" target="_top">Log in to Airflow</a> '
        "to see the agent runs.</p>",
    )
