"""What each enrichment column takes: the allowlist of columns, each value's type and length, text as
one plain line; every refusal names the column and what it takes."""

from __future__ import annotations

import pytest

from agentjobs.jobs.kinds.enrichment_values import (
    EMPLOYEES_MAX,
    INDUSTRY_MAX,
    WEBSITE_MAX,
    BadValue,
    clean_fields,
    clean_value,
)


@pytest.mark.parametrize(
    ("column", "value", "stored"),
    [
        ("industry", "  Manufacturing\n and  logistics ", "Manufacturing and logistics"),
        # Markup stays as text (renderers escape it); the bidi isolates go.
        ("industry", "<b>x</b> **Imports** \u2067@here\u2069", "<b>x</b> **Imports** @here"),
        ("country", "de", "DE"),
        ("country", " us\n", "US"),
        ("country", "\u202ede", "DE"),  # the bidi control is dropped with the other controls
        ("employee_count", 1, 1),
        ("employee_count", EMPLOYEES_MAX, EMPLOYEES_MAX),
        ("website", "https://globex.example", "https://globex.example"),
        ("website", "http://globex.example:8080/about/team?x=1", "http://globex.example:8080/about/team?x=1"),
    ],
)  # fmt: skip
def test_a_value_is_stored_as_one_plain_line_of_its_type(column, value, stored):
    assert clean_value(column, value) == stored


@pytest.mark.parametrize(
    ("column", "value", "says"),
    [
        ("employee_count", True, "employee_count must be a whole number, got True"),
        ("employee_count", 12.0, "employee_count must be a whole number, got 12.0"),
        ("employee_count", "12", "employee_count must be a whole number, got '12'"),
        ("employee_count", 0, "employee_count must be between 1 and 10,000,000, got 0"),
        ("employee_count", EMPLOYEES_MAX + 1, "must be between 1 and 10,000,000, got 10000001"),
        ("industry", 42, "industry must be text, got int 42"),
        ("industry", "", f"industry must be 1 to {INDUSTRY_MAX} characters, got 0"),
        ("industry", " \n\t ", f"industry must be 1 to {INDUSTRY_MAX} characters, got 0"),
        ("industry", "x" * (INDUSTRY_MAX + 1), f"industry must be 1 to {INDUSTRY_MAX} characters, got 81"),
        ("country", "Germany", "country must be an ISO 3166 two-letter code like 'DE', got 'Germany'"),
        ("country", "D3", "country must be an ISO 3166 two-letter code like 'DE', got 'D3'"),
        ("website", "javascript:alert(1)", "website must be a plain http(s) URL of at most 200 characters"),
        ("website", "ftp://globex.example", "plain http(s) URL"),
        ("website", "https://user:pw@globex.example", "plain http(s) URL"),
        ("website", "https://globex.example/\"><script>", "plain http(s) URL"),
        ("website", "https://globex.example/a b", "plain http(s) URL"),
        ("website", "https://" + "a" * WEBSITE_MAX + ".example", "plain http(s) URL"),
    ],
)  # fmt: skip
def test_a_value_the_column_does_not_take_is_refused_naming_the_column(column, value, says):
    with pytest.raises(BadValue) as refused:
        clean_value(column, value)
    assert says in str(refused.value)


def test_an_error_quoting_a_huge_value_stays_short():
    with pytest.raises(BadValue) as refused:
        clean_value("industry", ["x" * 10_000])
    assert len(str(refused.value)) <= 200


@pytest.mark.parametrize(
    ("column", "says"),
    [
        ("name", "'name' is not an enrichment column; write only industry, country, employee_count, website"),
        ("team_id", "'team_id' is not an enrichment column"),
        ("enriched_at", "'enriched_at' is set by the job itself; write only industry, country"),
        ("enrichment_source", "'enrichment_source' is set by the job itself"),
    ],
)
def test_a_column_outside_the_allowlist_is_refused_whatever_the_value(column, says):
    with pytest.raises(BadValue, match=says):
        clean_value(column, "anything")
    with pytest.raises(BadValue, match=says):
        clean_fields({"industry": "Robotics", column: "anything"})


def test_fields_come_back_cleaned_in_column_order():
    cleaned = clean_fields({"website": "https://tyrell.example", "country": "us", "industry": " Robotics "})
    assert list(cleaned.items()) == [
        ("industry", "Robotics"),
        ("country", "US"),
        ("website", "https://tyrell.example"),
    ]


@pytest.mark.parametrize("fields", [{}, None, [("industry", "x")], "industry=x"])
def test_no_fields_or_not_an_object_is_refused(fields):
    with pytest.raises(BadValue, match="fields must be an object of at least one of industry, country"):
        clean_fields(fields)


def test_the_first_bad_value_refuses_all_fields():
    with pytest.raises(BadValue, match="employee_count must be a whole number"):
        clean_fields({"industry": "Robotics", "employee_count": "many"})
