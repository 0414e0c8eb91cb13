"""The pseudonymizer: personal columns and PII found in free text become stable tokens the PII
detector does not flag; `restore` gives the real values back; the spec's `personal:` list is
checked against the input's columns and keeps the sample's SQL."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from agentjobs.jobs.inputs import Column, Input, mapped, personal_columns
from agentjobs.jobs.kinds.base import Member, PeriodRef, Team, TeamSnapshot
from agentjobs.jobs.kinds.registry import kind
from agentjobs.jobs.markdown_text import as_text
from agentjobs.jobs.period import period_of_day
from agentjobs.jobs.pii import find_pii
from agentjobs.jobs.pseudonyms import label_of, pseudonymize
from agentjobs.jobs.spec import JobSpecError, load_spec
from tests.jobs.test_inputs import write_spec

TEAM = Team(
    id="t1",
    name="Berlin",
    timezone="Europe/Berlin",
    currency="EUR",
    email_list=["finance@acme-berlin.de"],
)
MEMBER = Member(id="u1", name="Jane Roe", email="jane.roe@acme-berlin.de", timezone="Europe/Berlin")
INVOICES = Input(
    "invoices",
    "test invoices",
    (
        Column("id", "text"),
        Column("customer_name", "text", nullable=True, personal=True),
        Column("payer_iban", "text", nullable=True),
        Column("notes", "text", nullable=True),
        Column("currency", "text", check="currency"),
        Column("amount_cents", "integer"),
    ),
    ("team_id",),
    "SELECT * FROM invoices WHERE team_id = :team_id",
)
ROWS = [
    {
        "id": "030 1234 5678",  # an id shaped like a phone number is a key: left alone
        "customer_name": "Globex GmbH",
        "payer_iban": "DE89 3704 0044 0532 0130 00",
        "notes": "Call Hank on +49 30 901820 or hank@globex.example.com",
        "currency": "EUR",
        "amount_cents": 120_00,
    },
    {
        "id": "inv-2",
        "customer_name": "Initech AG",
        "payer_iban": None,
        "notes": "Second reminder sent to hank@globex.example.com",
        "currency": "EUR",
        "amount_cents": 80_00,
    },
    {
        "id": "inv-3",
        "customer_name": "Globex GmbH",
        "payer_iban": "DE89 3704 0044 0532 0130 00",
        "notes": None,
        "currency": "EUR",
        "amount_cents": 40_00,
    },
]


def snapshot(rows: list[dict] | None = None) -> TeamSnapshot:
    return TeamSnapshot(
        kind="test",
        team=TEAM,
        members=[MEMBER],
        period=PeriodRef.of(period_of_day(date(2026, 11, 28), "Europe/Berlin")),
        tables={"invoices": [dict(r) for r in (rows or ROWS)]},
    )


def test_personal_columns_and_pii_in_free_text_become_stable_tokens_the_detector_does_not_flag():
    real = snapshot()
    view, names = pseudonymize(real, [INVOICES], {"invoices": {"customer_name", "payer_iban"}})
    first, second, third = view.tables["invoices"]
    # The same value is the same token, in every row; another value another token.
    assert first["customer_name"] == third["customer_name"] == "Customer-1"
    assert second["customer_name"] == "Customer-2"
    assert first["payer_iban"] == third["payer_iban"] == "PayerIban-1"
    assert second["payer_iban"] is None
    # Free text keeps its words; what the detector finds in it is a token, the same one each time.
    assert first["notes"] == "Call Hank on Phone-1 or Email-1"
    assert second["notes"] == "Second reminder sent to Email-1"
    # Keys, codes and numbers are as stored.
    assert [r["id"] for r in view.tables["invoices"]] == ["030 1234 5678", "inv-2", "inv-3"]
    assert (first["currency"], first["amount_cents"]) == ("EUR", 120_00)
    # Members and the team's own addresses too; the team's name is no one's.
    assert (view.members[0].name, view.members[0].email) == ("Member-1", "Email-2")
    assert view.team.email_list == ["Email-3"] and view.team.name == "Berlin"
    # Nothing personal is left for the detector to find, and no real value is in the view.
    text = view.model_dump_json()
    for value in ("Globex", "Initech", "DE89", "901820", "hank@", "Jane Roe", "jane.roe", "finance@"):
        assert value not in text
    assert find_pii(" ".join(names.values)) == []  # no token reads as PII
    assert [f.masked for f in find_pii(text)] == ["*** **** **78"]  # only the id kept as a key
    # The real snapshot is untouched: render and check read it.
    assert real == snapshot() and names.values["Customer-1"] == "Globex GmbH"


def test_the_same_snapshot_gets_the_same_tokens_so_a_retry_asks_the_same_question():
    personal = {"invoices": {"customer_name"}}
    one, _ = pseudonymize(snapshot(), [INVOICES], personal)
    two, _ = pseudonymize(snapshot(), [INVOICES], personal)
    assert one.model_dump_json() == two.model_dump_json()


def test_a_token_that_is_already_text_in_the_data_is_not_handed_out():
    rows = [dict(ROWS[0], notes="see Customer-1 in the old system"), *ROWS[1:]]
    view, names = pseudonymize(snapshot(rows), [INVOICES], {"invoices": {"customer_name"}})
    assert view.tables["invoices"][0]["customer_name"] == "Customer-2"
    assert view.tables["invoices"][1]["customer_name"] == "Customer-3"
    # The literal text stays what it was when the model quotes it back.
    assert names.restore("Customer-1 and Customer-2") == "Customer-1 and Globex GmbH"


def test_restore_puts_the_real_values_back_everywhere_in_the_answer_and_leaves_unknown_tokens():
    _, names = pseudonymize(snapshot(), [INVOICES], {"invoices": {"customer_name"}})
    answer = {
        "explanations": {"Customer-2": "Remind Customer-1 (Email-1), not Customer-12 or Customer-99."},
        "items": 2,
        "list": ["Phone-1", {"nested": "Member-1's customer"}],
    }
    assert names.restore(answer) == {
        "explanations": {
            "Initech AG": "Remind Globex GmbH (hank@globex.example.com), not Customer-12 or Customer-99."
        },
        "items": 2,
        "list": ["+49 30 901820", {"nested": "Jane Roe's customer"}],
    }


def test_labels_read_as_words_the_model_can_repeat():
    assert label_of("invoices", "customer_name") == "Customer"
    assert label_of("vendors", "name") == "Vendor"
    assert label_of("payments", "payer_iban") == "PayerIban"
    assert label_of("notes", "free_text") == "FreeText"


def test_the_shipped_kinds_mark_names_personal_and_the_spec_adds_its_own(tmp_path: Path):
    compliance = kind("compliance_report")
    assert personal_columns(compliance.inputs, {}) == {
        "unpaid_invoices": frozenset({"customer_name"}),
        "unmatched": frozenset({"vendor_name"}),
    }
    path = write_spec(tmp_path, {"transactions": {"personal": ["category"]}}, "compliance_report")
    mapping = load_spec(path).sources.sql.inputs
    assert personal_columns(compliance.inputs, mapping)["transactions"] == frozenset({"category"})
    # Marking columns alone keeps the sample's query and its binds.
    team_period = period_of_day(date(2026, 10, 31), "Europe/Berlin")
    queries = compliance.queries(TEAM, team_period, compliance.settings_model())
    assert mapped(compliance.inputs, queries, mapping) == queries


def test_the_spec_refuses_a_personal_column_the_input_lacks_or_the_kind_must_read_as_is(tmp_path: Path):
    path = write_spec(tmp_path, {"transactions": {"personal": ["memo"]}}, "compliance_report")
    with pytest.raises(JobSpecError) as error:
        load_spec(path)
    assert "personal column 'memo' is not one of its columns" in str(error.value)
    assert "sources.sql.inputs.transactions" in str(error.value)
    path = write_spec(tmp_path, {"receipts": {"personal": ["vendor_name"]}}, "reconciliation")
    with pytest.raises(JobSpecError, match="'vendor_name' cannot be personal: the matching rules compare"):
        load_spec(path)
    path = write_spec(tmp_path, {"customers": {"personal": ["name"]}}, "enrichment")
    with pytest.raises(JobSpecError, match="its lookup URL is built from it"):
        load_spec(path)


def test_a_mapping_with_neither_query_table_nor_personal_columns_is_refused(tmp_path: Path):
    with pytest.raises(JobSpecError, match="or mark its `personal` columns"):
        load_spec(write_spec(tmp_path, {"transactions": {}}, "compliance_report"))


def test_the_models_token_becomes_the_vendor_and_an_invented_token_fails_the_kinds_check():
    from agentjobs.jobs.kinds.anomaly_flags import KIND
    from agentjobs.jobs.kinds.base import CheckFailed
    from tests.jobs.kinds.test_anomaly_flags import SETTINGS, explain_all, spiky_with_hostile_duplicate

    real = spiky_with_hostile_duplicate()
    view, names = pseudonymize(real, KIND.inputs, personal_columns(KIND.inputs, {}))
    prompt = KIND.plan(view, SETTINGS, "structured").prompt
    token = re.search(r"Duplicate charge: .+? to (\S+) in transaction", prompt)[1]
    vendor = names.values[token]  # the duplicate's vendor, a hostile name
    assert vendor not in prompt and "Acme" not in prompt
    answer = explain_all(real)
    answer["explanations"][-1]["why"] = f"Ask {token} for a refund"
    rendered = KIND.render(real, names.restore(answer), SETTINGS, "Anomalies")
    assert f"Ask {as_text(vendor)} for a refund" in rendered.markdown
    KIND.check(real, rendered.markdown, rendered.result, SETTINGS)
    answer["explanations"][-1]["why"] = "Ask Vendor-77 for a refund"  # maps to nothing: stays, and fails
    rendered = KIND.render(real, names.restore(answer), SETTINGS, "Anomalies")
    with pytest.raises(CheckFailed, match="Vendor-77"):
        KIND.check(real, rendered.markdown, rendered.result, SETTINGS)
