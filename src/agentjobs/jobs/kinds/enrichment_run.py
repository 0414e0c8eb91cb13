"""enrichment at run time: the lookups, the fetch of each record (structured mode) or the tools
that stage updates (loop mode), enrichment.md rendered in code and its check (the kind,
enrichment.py, delegates here; a DAG parse never loads this module)."""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from agentjobs.agent.errors import AgentError, PermissionDenied
from agentjobs.agent.scrub import scrub
from agentjobs.jobs.kinds.base import CheckFailed, KindPlan, Rendered, TeamSnapshot, check_heading
from agentjobs.jobs.kinds.enrichment_settings import ARTIFACT_FILE, EnrichmentSettings, lookup_url
from agentjobs.jobs.kinds.enrichment_values import COLUMNS, BadValue, clean_fields, clean_value
from agentjobs.jobs.markdown_text import as_text, one_line
from agentjobs.jobs.numbers import format_count
from agentjobs.jobs.prompt_data import as_data

if TYPE_CHECKING:  # annotations only: the tools' module loads when a task asks for the tools
    from agentjobs.agent.http_policy import HttpPolicy
    from agentjobs.agent.tools import Tool

log = logging.getLogger(__name__)
REASON_MAX = 160
KEYS_MAX = 40  # record keys offered to the model as an enum
FETCH_TIMEOUT_S = 10.0
MEANING = {
    "industry": "the company's industry or sector (text)",
    "country": "the country of its head office, an ISO 3166 two-letter code like DE",
    "employee_count": "its number of employees (a whole number)",
    "website": "its web site, an http(s) URL",
}


def customers_of(snapshot: TeamSnapshot) -> list[dict[str, Any]]:
    return list(snapshot.tables.get("customers", []))


def _name(row: dict[str, Any]) -> str | None:
    name = row.get("name")
    return (str(name).strip() or None) if name is not None else None


def unnamed(snapshot: TeamSnapshot) -> list[str]:
    """The ids of the customers with no name (NULL or blank): refused with NO_NAME, never looked
    up (a lookup of "None" would fetch, and maybe write, another company's record)."""
    return sorted(str(row["id"]) for row in customers_of(snapshot) if _name(row) is None)


NO_NAME = "no name in the customers table: nothing to look up"


def _reason(text: Any) -> str:
    return one_line(scrub(str(text)))[:REASON_MAX] or "no reason given"


def _code(text: str) -> str:
    return one_line(text).replace("`", "'")


# ---------------------------------------------------------------------------------- the fetch


def fetch_record(url: str, policy: HttpPolicy) -> dict[str, Any] | str:
    """The JSON object at `url`, or why it was refused (logged): the structured mode's fetch, with
    the same checks as `http_get` (allowlisted prefix, size cap, content type)."""
    from agentjobs.agent.guarded_http import guarded_get  # sockets and TLS: a task's, not a parse's

    try:
        fetched = guarded_get(
            url,
            check=policy.check,
            timeout_s=FETCH_TIMEOUT_S,
            deadline_s=FETCH_TIMEOUT_S,
            max_bytes=policy.max_bytes,
        )
    except (AgentError, OSError) as exc:
        denied = isinstance(exc, PermissionDenied)
        refused = str(exc) if denied else f"not fetched: {type(exc).__name__}: {exc}"
    else:
        refused = policy.refusal(fetched) or ""
        if not refused and fetched.status != 200:
            refused = f"no record (HTTP {fetched.status})"
        if not refused:
            try:
                record = json.loads(fetched.text()[0])
            except ValueError:
                record = None
            if isinstance(record, dict):
                return record
            refused = "the response is not a JSON object"
    log.warning("enrichment lookup %s refused: %s", url, refused)
    return _reason(refused)


def record_keys(records: dict[str, dict[str, Any]]) -> list[str]:
    """The records' keys holding a scalar, in first-seen order (what a column can be mapped to)."""
    keys: dict[str, None] = {}
    for record in records.values():
        for key, value in record.items():
            if isinstance(value, str | int | float) and not isinstance(value, bool) and len(str(key)) <= 60:
                keys.setdefault(str(key), None)
    return list(keys)[:KEYS_MAX]


def candidates(records: dict[str, dict[str, Any]], keys: list[str], column: str) -> list[str]:
    """The keys holding, in some record, a value `column` would store: all the model may pick."""
    found = []
    for key in keys:
        for record in records.values():
            try:
                clean_value(column, record.get(key))
            except BadValue:
                continue
            found.append(key)
            break
    return found


def mapping_schema(choices: dict[str, list[str]]) -> dict[str, Any]:
    """One required pick per open column, from its candidate keys or "" (none of them)."""
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["mapping"],
        "properties": {
            "mapping": {
                "type": "object",
                "additionalProperties": False,
                "required": list(choices),
                "properties": {c: {"type": "string", "enum": [*keys, ""]} for c, keys in choices.items()},
            }
        },
    }


# ---------------------------------------------------------------------------------- the write tool


class UpdateArgs(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)  # a task's tool's: built when it runs
    customer_id: Annotated[str, Field(description="The id of a customer of the task's list")]
    fields: Annotated[
        dict[str, Any],
        Field(description=f"Only these keys: {', '.join(COLUMNS)}; values from the record you fetched"),
    ]


class Staging:
    """What `update_enrichment` accepted during one run (in memory: the render reads it at the end)."""

    def __init__(
        self, snapshot: TeamSnapshot, sources: dict[str, str] | None = None, policy: HttpPolicy | None = None
    ) -> None:
        self.ids = {str(row["id"]) for row in customers_of(snapshot)}
        self.updates: dict[str, dict[str, Any]] = {}
        self.errors: dict[str, str] = {}
        # With a policy, every staged value must be one the customer's own record holds: the
        # tool reads the record itself (same checks as http_get), so a value the model made up
        # or took from another page is refused.
        self.sources, self.policy = sources or {}, policy
        self.records: dict[str, dict[str, Any] | str] = {}

    def ground(self, customer_id: str, values: dict[str, Any]) -> None:
        if self.policy is None:
            return
        url = self.sources[customer_id]
        if customer_id not in self.records:
            self.records[customer_id] = fetch_record(url, self.policy)
        record = self.records[customer_id]
        if isinstance(record, str):
            raise BadValue(f"its record at {url} cannot be used: {record}")
        for column, value in values.items():
            held = []
            for raw in record.values():
                try:
                    held.append(clean_value(column, raw))
                except BadValue:
                    continue
            if value not in held:
                raise BadValue(
                    f"{column} {value!r} is not in the directory's record of this customer; "
                    "write only what its record says"
                )

    def update_enrichment(self, args: UpdateArgs) -> str:
        """Stage the enrichment of one customer (written after the run is checked, once)."""
        customer_id = args.customer_id
        if customer_id not in self.ids:
            raise PermissionDenied(
                f"{customer_id!r} is not a customer of this task's list (or it is enriched already); "
                "enrich only the ids listed"
            )
        if customer_id in self.updates:
            raise PermissionDenied(f"{customer_id!r} is staged already; each customer is enriched once")
        try:
            values = clean_fields(args.fields)
            self.ground(customer_id, values)
        except BadValue as exc:
            self.errors[customer_id] = str(exc)
            raise PermissionDenied(f"update of {customer_id!r} refused: {exc}") from None
        self.updates[customer_id] = values
        self.errors.pop(customer_id, None)
        return f"staged {customer_id}: {', '.join(values)}"

    def tool(self) -> Tool:
        from agentjobs.agent.tools import tool_from_function  # run time: the tools' module is not parse's

        return tool_from_function(
            self.update_enrichment,
            name="update_enrichment",
            description="Stage one customer's enrichment: `fields` may hold only "
            f"{', '.join(COLUMNS)} (no other column can be written). Each customer once.",
        )

    def collected(self) -> dict[str, Any]:
        return {"staged": dict(self.updates), "tool_errors": dict(self.errors)}


def lookup_sources(snapshot: TeamSnapshot, settings: EnrichmentSettings) -> dict[str, str]:
    """customer id -> its one lookup URL."""
    return {
        str(row["id"]): lookup_url(settings, name)
        for row in customers_of(snapshot)
        if (name := _name(row)) is not None
    }


# ------------------------------------------------------------------ the model


def plan(
    snapshot: TeamSnapshot, settings: EnrichmentSettings, mode: Literal["loop", "structured"]
) -> KindPlan:
    rows = customers_of(snapshot)
    if not rows:
        return KindPlan(prompt="", answer={}, answer_reason="every customer is enriched already")
    if len(unnamed(snapshot)) == len(rows):
        return KindPlan(prompt="", answer={}, answer_reason="no customer has a name to look up")
    if mode == "loop":
        return _loop_plan(snapshot, settings)
    policy, sources = settings.policy(), lookup_sources(snapshot, settings)
    fetched = {cid: fetch_record(url, policy) for cid, url in sources.items()}
    records = {cid: r for cid, r in fetched.items() if isinstance(r, dict)}
    refused = {cid: r for cid, r in fetched.items() if isinstance(r, str)}
    gathered = {"records": records, "fetch_refused": refused}
    keys = record_keys(records)
    # A key named like the column is that column: code maps it. The model picks only for the
    # other columns, and only among keys holding a value the column would store, so its task
    # stays tiny (LOCAL-MODEL.md) and a wrong pick cannot write text into employee_count.
    gathered["code_mapping"] = {column: column for column in COLUMNS if column in keys}
    choices = {
        column: found
        for column in COLUMNS
        if column not in gathered["code_mapping"] and (found := candidates(records, keys, column))
    }
    if not choices:
        reason = "every column is mapped by code" if records else "no record was fetched"
        return KindPlan(prompt="", answer={}, answer_reason=reason, collect=lambda: gathered)
    examples: dict[str, Any] = {}
    for record in records.values():
        for key in keys:
            if key in record:
                examples.setdefault(key, record[key])
    offered = list(dict.fromkeys(k for found in choices.values() for k in found))
    lines = [
        "A company directory answered with records of our customers. For each column below, pick "
        'the key of the records that holds it, or "" when none does.',
        *(f"- {column}: {MEANING[column]}" for column in choices),
        "The keys you may pick, each with one example value:",
        "<data>",
        *(f"- {as_data(key)}: {as_data(json.dumps(examples[key]))[:80]}" for key in offered),
        "</data>",
        "Example: " + json.dumps({"mapping": {column: "<a key>" for column in choices}}),
    ]
    return KindPlan(prompt="\n".join(lines), result_schema=mapping_schema(choices), collect=lambda: gathered)


def _loop_plan(snapshot: TeamSnapshot, settings: EnrichmentSettings) -> KindPlan:
    sources = lookup_sources(snapshot, settings)
    staging = Staging(snapshot, sources, settings.policy())
    lines = [
        f"Enrich the customers of team {as_data(snapshot.team.name)} from the company directory. "
        "For each customer below, call http_get on its url; when the answer is a JSON record of "
        "that company, call update_enrichment with its id and the fields you found "
        f"({', '.join(COLUMNS)}).",
        *(f"- {column}: {meaning}" for column, meaning in MEANING.items()),
        "Skip a customer whose lookup fails, is refused or is not that company, and say why in "
        f"`skipped` (customer id -> one short reason, at most {REASON_MAX} characters).",
        "<data>",
        *(
            f"- id: {as_data(str(row['id']))} | name: {as_data(str(row['name']))} | "
            f"url: {sources[str(row['id'])]}"
            for row in customers_of(snapshot)
            if str(row["id"]) in sources
        ),
        "</data>",
    ]
    schema = {
        "type": "object",
        "properties": {"skipped": {"type": "object", "description": "customer id -> reason"}},
    }
    return KindPlan(
        prompt="\n".join(lines),
        result_schema=schema,
        tools=[staging.tool()],
        http_policy=settings.policy(),
        collect=staging.collected,
    )


# ------------------------------------------------------------------ outcome of the run


def outcome(snapshot: TeamSnapshot, answer: dict[str, Any], settings: EnrichmentSettings) -> dict[str, Any]:
    """The RESULT: updates (checked values, each with its source) and refusals, in id order."""
    sources = lookup_sources(snapshot, settings)
    updates: list[dict[str, Any]] = []
    refused: list[dict[str, Any]] = []
    if "staged" in answer:  # loop mode: what the write tool accepted
        skipped = answer.get("skipped") if isinstance(answer.get("skipped"), dict) else {}
        errors = answer.get("tool_errors") or {}
        for cid in sorted(sources):
            fields = answer["staged"].get(cid)
            if fields:
                updates.append({"customer_id": cid, "fields": fields, "source": sources[cid], "notes": []})
            else:
                why = skipped.get(cid) or errors.get(cid) or "not enriched by the model"
                refused.append({"customer_id": cid, "reason": _reason(why)})
    else:  # structured mode: code fetched, the model mapped keys to columns
        picked = answer.get("mapping") if isinstance(answer.get("mapping"), dict) else {}
        mapping = {**(answer.get("code_mapping") or {}), **picked}
        records = answer.get("records") or {}
        fetch_refused = answer.get("fetch_refused") or {}
        for cid in sorted(sources):
            if cid not in records:
                refused.append({"customer_id": cid, "reason": _reason(fetch_refused.get(cid, "not fetched"))})
                continue
            fields, notes = {}, []
            for column in COLUMNS:
                key = mapping.get(column)
                if not key or key not in records[cid]:
                    continue
                try:
                    fields[column] = clean_value(column, records[cid][key])
                except BadValue as exc:
                    notes.append(_reason(exc))
            if fields:
                updates.append({"customer_id": cid, "fields": fields, "source": sources[cid], "notes": notes})
            else:
                why = "; ".join(notes) or "the record holds none of the columns"
                refused.append({"customer_id": cid, "reason": _reason(why)})
    refused += [{"customer_id": cid, "reason": NO_NAME} for cid in unnamed(snapshot)]
    refused.sort(key=lambda entry: entry["customer_id"])
    return {"path": ARTIFACT_FILE, "items": len(updates), "updates": updates, "refused": refused}


# ------------------------------------------------------------------ the artifact


def heading(snapshot: TeamSnapshot, title: str) -> str:
    return f"# {one_line(title)} — {as_text(snapshot.team.name)}, {snapshot.period.key}"


def expected(
    snapshot: TeamSnapshot, result: dict[str, Any], settings: EnrichmentSettings, title_line: str
) -> str:
    names = {str(row["id"]): _name(row) or "(no name)" for row in customers_of(snapshot)}
    updates, refused = result.get("updates", []), result.get("refused", [])
    total = len(names)
    lines = [
        title_line,
        "",
        f"{len(updates)} of {total} customer{'s' if total != 1 else ''} to enrich from "
        f"`{_code(settings.source_url)}`, {len(refused)} refused.",
        "",
    ]
    if updates:
        lines += ["## Enriched", ""]
        for update in updates:
            cid = str(update["customer_id"])
            lines.append(
                f"- `{_code(cid)}` {as_text(names.get(cid, '(not a customer of this run)'))}: "
                f"{describe(update['fields'])}"
                + "".join(f" (not written: {as_text(note)})" for note in update.get("notes", []))
            )
        lines.append("")
    if refused:
        lines += ["## Refused", ""]
        for entry in refused:
            cid = str(entry["customer_id"])
            lines.append(
                f"- `{_code(cid)}` {as_text(names.get(cid, '(not a customer of this run)'))}: "
                f"{as_text(str(entry['reason']))}"
            )
        lines.append("")
    return "\n".join(lines)


def render(
    snapshot: TeamSnapshot, answer: dict[str, Any], settings: EnrichmentSettings, title: str
) -> Rendered:
    result = outcome(snapshot, answer, settings)
    return Rendered(expected(snapshot, result, settings, heading(snapshot, title)), result)


def check(
    snapshot: TeamSnapshot, markdown: str, result: dict[str, Any], settings: EnrichmentSettings
) -> None:
    suffix = f" — {as_text(snapshot.team.name)}, {snapshot.period.key}"
    first = check_heading(markdown, ARTIFACT_FILE, suffix)
    sources = lookup_sources(snapshot, settings)
    seen: set[str] = set()
    for update in result.get("updates", []):
        cid = str(update.get("customer_id"))
        if cid not in sources:
            raise CheckFailed(f"{cid!r} is not a customer of this run's snapshot (or enriched before)")
        if cid in seen:
            raise CheckFailed(f"customer {cid!r} is enriched twice")
        seen.add(cid)
        if update.get("source") != sources[cid]:
            raise CheckFailed(f"the values of {cid!r} do not come from its lookup URL {sources[cid]!r}")
        try:
            if clean_fields(update.get("fields")) != update.get("fields"):
                raise BadValue("its values are not as the job stores them")
        except BadValue as exc:
            raise CheckFailed(f"the update of {cid!r} is refused: {exc}") from None
    nameless = set(unnamed(snapshot))
    for entry in result.get("refused", []):
        cid = str(entry.get("customer_id"))
        if (cid not in sources and cid not in nameless) or cid in seen:
            raise CheckFailed(f"{cid!r} is refused but is not a customer of this run left unenriched")
        seen.add(cid)
    if seen != set(sources) | nameless:
        missing = ", ".join(sorted((set(sources) | nameless) - seen))
        raise CheckFailed(f"{ARTIFACT_FILE} says nothing of customer(s) {missing}")
    if markdown != expected(snapshot, result, settings, first):
        raise CheckFailed(f"{ARTIFACT_FILE} is not the rendering of the run's updates and refusals")
    if result.get("items") != len(result.get("updates", [])):
        raise CheckFailed(f"the result says {result.get('items')!r} items, not its number of updates")


def preview(markdown: str) -> str:
    lines = [line for line in markdown.splitlines() if line.strip()]
    return lines[1].strip() if len(lines) > 1 else ""


def describe(fields: dict[str, Any]) -> str:
    parts = []
    for column in COLUMNS:
        if column not in fields:
            continue
        value = fields[column]
        if column == "employee_count":
            parts.append(f"{format_count(int(value))} employees")
        elif column == "website":
            parts.append(f"website `{_code(str(value))}`")  # a code span: never a live link
        else:
            parts.append(f"{column} {as_text(str(value))}")
    return ", ".join(parts)
