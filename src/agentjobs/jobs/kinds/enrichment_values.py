"""The customers' enrichment columns, and what a value written to each must look like.

The columns are an allowlist in code: the write tool, the check and the database write all
refuse any other column (`name`, `team_id`, `enriched_at`...), whoever asks. Values come from
an outside source and a model, so each is checked for type and length, and text is stored as
one plain line (its markup stays inert: renderers escape it, nothing here interprets it).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

# Modules only a running task needs are imported in the functions that use them: every DAG
# parse imports this module (bench/dag_parse.py).
from agentjobs.lazy_pattern import lazy

# What the job may write, and only while the row's `enriched_at` is NULL.
COLUMNS: tuple[str, ...] = ("industry", "country", "employee_count", "website")
# Set by code in the same UPDATE, never by a caller.
CODE_COLUMNS: tuple[str, ...] = ("enriched_at", "enrichment_source")
INDUSTRY_MAX = 80
WEBSITE_MAX = 200
EMPLOYEES_MAX = 10_000_000
_COUNTRY = lazy(r"[A-Z]{2}")  # fullmatch, as _WEBSITE: no trailing "\n" slips past `$`
# A host and an optional path of visible characters; no quotes, angle brackets or backticks.
_WEBSITE = lazy(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[^\s<>\"'`\\]*)?")


class BadValue(ValueError):
    """A value the column does not take; the message names the column and the fix."""


def clean_value(column: str, value: Any) -> Any:
    """`value` as `column` stores it, or BadValue."""
    from agentjobs.jobs.markdown_text import one_line

    if column not in COLUMNS:
        if column in CODE_COLUMNS:
            raise BadValue(f"{column!r} is set by the job itself; write only {', '.join(COLUMNS)}")
        raise BadValue(f"{column!r} is not an enrichment column; write only {', '.join(COLUMNS)}")
    if column == "employee_count":
        if isinstance(value, bool) or not isinstance(value, int):
            raise BadValue(f"employee_count must be a whole number, got {value!r}")
        if not 1 <= value <= EMPLOYEES_MAX:
            raise BadValue(f"employee_count must be between 1 and {EMPLOYEES_MAX:,}, got {value}")
        return value
    if not isinstance(value, str):
        raise BadValue(f"{column} must be text, got {type(value).__name__} {value!r}"[:200])
    text = one_line(value)
    if column == "industry":
        if not 1 <= len(text) <= INDUSTRY_MAX:
            raise BadValue(f"industry must be 1 to {INDUSTRY_MAX} characters, got {len(text)}")
        return text
    if column == "country":
        code = text.upper()
        if not _COUNTRY.fullmatch(code):
            raise BadValue(f"country must be an ISO 3166 two-letter code like 'DE', got {text[:40]!r}")
        return code
    if len(text) > WEBSITE_MAX or not _WEBSITE.fullmatch(text) or "@" in urlsplit(text).netloc:
        raise BadValue(
            f"website must be a plain http(s) URL of at most {WEBSITE_MAX} characters, got {text[:60]!r}"
        )
    return text


def clean_fields(fields: Any) -> dict[str, Any]:
    """Every field cleaned, in COLUMNS order; BadValue for the first that is not allowed."""
    if not isinstance(fields, dict) or not fields:
        raise BadValue(f"fields must be an object of at least one of {', '.join(COLUMNS)}")
    for column in fields:
        if column not in COLUMNS:
            clean_value(str(column), None)  # raises, naming the column
    return {column: clean_value(column, fields[column]) for column in COLUMNS if column in fields}
