"""A job's replay evaluations as a page: each one's table, its runs beside what they delivered.

The reports are what `agentjobs eval` wrote (jobs/evaluation.py); their text (run labels,
models, the reasons a rerun failed) came from specs, models and snapshots, so every value is
written escaped, as on the other pages. Cells carry `data-field` names, and each row its run
(`data-run`), so a reader or a test finds a number without parsing the layout.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from agentjobs.jobs.evaluation import Evaluation, Side, Totals
from agentjobs.ui.render import _e, page

FIELDS = ("contract", "items", "numbers", "names", "tokens", "cost", "seconds")


def evals_href(prefix: str, job: str) -> str:
    return f"{prefix}/evals/{quote(job, safe='')}"


def _side_cells(side: Side | None, who: str) -> str:
    if side is None:
        return "".join(f'<td data-field="{who}_{f}">—</td>' for f in FIELDS)
    values: dict[str, Any] = {
        "contract": "pass" if side.contract_ok else "FAIL",
        "items": side.items,
        "numbers": side.numbers,
        "names": side.names,
        "tokens": side.tokens,
        "cost": None if side.cost_usd is None else f"${side.cost_usd:.4f}",
        "seconds": None if side.latency_s is None else f"{side.latency_s:.1f}",
    }
    cells = []
    for name in FIELDS:
        value = values[name]
        css = ' class="bad"' if name == "contract" and not side.contract_ok else ' class="n"'
        title = f' title="{_e(side.error)}"' if name == "contract" and side.error else ""
        cells.append(f'<td data-field="{who}_{name}"{css}{title}>{_e("—" if value is None else value)}</td>')
    return "".join(cells)


def _total_cells(totals: Totals, who: str) -> str:
    rate = "—" if totals.pass_rate is None else f"{totals.passed}/{totals.runs} ({totals.pass_rate:.0%})"
    values = [
        rate,
        totals.items,
        totals.numbers,
        totals.names,
        totals.tokens,
        "—" if totals.cost_usd is None else f"${totals.cost_usd:.4f}",
        f"{totals.latency_s:.1f}",
    ]
    return "".join(
        f'<td data-field="{who}_{name}" class="n">{_e(value)}</td>'
        for name, value in zip(FIELDS, values, strict=True)
    )


def evaluation_table(evaluation: Evaluation) -> str:
    names = "".join(f"<th>{f}</th>" for f in FIELDS)
    header = (
        f'<tr><th></th><th colspan="{len(FIELDS)}">Delivered</th>'
        f'<th colspan="{len(FIELDS)}">Evaluated</th></tr>'
        f"<tr><th>Run</th>{names}{names}</tr>"
    )
    rows = []
    failures = []
    for row in evaluation.rows:
        if row.skipped:
            rows.append(
                f'<tr data-run="{_e(row.run)}"><td>{_e(row.run)}</td>'
                f'<td colspan="{2 * len(FIELDS)}" class="muted" data-field="skipped">'
                f"{_e(row.skipped)}</td></tr>"
            )
            continue
        rows.append(
            f'<tr data-run="{_e(row.run)}"><td>{_e(row.run)}</td>'
            f"{_side_cells(row.delivered, 'delivered')}{_side_cells(row.evaluated, 'evaluated')}</tr>"
        )
        if row.evaluated is not None and row.evaluated.error:
            failures.append(f'<li data-run="{_e(row.run)}">{_e(row.run)}: {_e(row.evaluated.error)}</li>')
    rows.append(
        '<tr data-run="total"><th>Total</th>'
        f"{_total_cells(evaluation.totals('delivered'), 'delivered')}"
        f"{_total_cells(evaluation.totals('evaluated'), 'evaluated')}</tr>"
    )
    why = f"<p>Why reruns failed:</p><ul>{''.join(failures)}</ul>" if failures else ""
    return f'<table data-eval="{_e(evaluation.eval_id)}">{header}{"".join(rows)}</table>{why}'


def evals_page(*, prefix: str, job: str, evaluations: list[Evaluation], broken: list[str]) -> str:
    notices = "".join(
        f'<p class="bad" data-field="problem">report {_e(name)} could not be read</p>' for name in broken
    )
    sections = []
    for evaluation in evaluations:
        skills = f", skills of {evaluation.skills_dir}" if evaluation.skills_dir else ""
        sections.append(
            f'<h2 id="{_e(evaluation.eval_id)}">{_e(evaluation.eval_id)}</h2>'
            f'<p class="muted">{_e(evaluation.model)} through {_e(evaluation.llm_conn_id)}{_e(skills)}, '
            f"{_e(evaluation.created.strftime('%Y-%m-%d %H:%M UTC'))}; nothing was delivered</p>"
            + evaluation_table(evaluation)
        )
    body = (
        f"<h1>Replay evaluations of {_e(job)}</h1>"
        + f'<p><a href="{_e(prefix)}/?job={_e(quote(job, safe=""))}">Runs of {_e(job)}</a></p>'
        + notices
        + (
            "".join(sections)
            or f'<p class="muted">No evaluations yet: <code>agentjobs eval {_e(job)} --llm-conn '
            "CONN_ID</code> makes one.</p>"
        )
    )
    return page(f"agentjobs: evaluations of {job}", body)
