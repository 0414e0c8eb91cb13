"""jobs/names.py: the names a model's text writes, looked up in the data it was given.

Both ways: invented names and near-miss spellings must be found; names that are in the data,
ordinary sentence-initial words and a capable model's usual report prose must pass."""

from __future__ import annotations

import pytest

from agentjobs.jobs.names import Names, candidates, strings_of

# Strings as a snapshot of the sample business database holds them.
ROWS = {
    "team": {"id": "team-berlin", "name": "Berlin", "timezone": "Europe/Berlin", "currency": "EUR"},
    "members": [
        {"name": "Anna Schmidt", "email": "anna.schmidt@example.org"},
        {"name": "Jürgen Weiß", "email": "juergen.weiss@example.org"},
        {"name": "James O'Neil", "email": "james.oneil@example.org"},
    ],
    "rows": [
        {"id": "txn-ber-004533", "category": "marketing", "vendor_name": "Brightads GmbH"},
        {"id": "txn-ber-004534", "category": "software", "vendor_name": "Cloudnine GmbH"},
        {"id": "txn-ber-004535", "category": "contractors", "vendor_name": "Northwind Consulting GmbH"},
        {"id": "inv-0012", "number": "INV-0012", "customer_name": "Acme Corporation"},
        {"id": "inv-0013", "number": "INV-0013", "customer_name": "Globex G.m.b.H."},
        {"repo": "acme/app", "path": "reports/q3.csv"},
    ],
}
DATA = Names(strings_of(ROWS), vocabulary=["this_week", "previous_week"])


@pytest.mark.parametrize(
    ("text", "invented"),
    [
        # Invented customers, vendors, teams, people.
        ("Initech paid two invoices late this week.", ["Initech"]),
        ("Spend at Lufthansa drove the travel increase.", ["Lufthansa"]),
        ("The Munich team booked most of the revenue.", ["Munich"]),
        ("Ask Maria Garcia whether the charge is expected.", ["Maria Garcia"]),
        ("Stark Industries and Wayne Enterprises paid.", ["Stark Industries", "Wayne Enterprises"]),
        # Near-miss spellings of names that are in the data.
        ("Acme Corp was the largest customer this week.", ["Acme Corp"]),
        ("Globexx settled its invoice.", ["Globexx"]),
        ("Cloud Nine GmbH billed twice.", ["Cloud Nine GmbH"]),
        ("Bright Ads Ltd ran a new campaign.", ["Bright Ads Ltd"]),
        ("Anna Schmitt approved the payment.", ["Anna Schmitt"]),
        ("Northwind Consultants sent a bigger invoice.", ["Northwind Consultants"]),
        # A sentence-initial name, possessives, all caps.
        ("Hooli's invoices are overdue.", ["Hooli's"]),
        ("UMBRELLA paid early.", ["UMBRELLA"]),
        ("Initech Surge: Hooli Spike Continues", ["Initech", "Hooli"]),  # a title-case heading
        # Categories, quoted or capitalised, that the data does not have.
        ('The "payroll" category rose.', ["payroll"]),
        ("Utilities spend fell while “Insurance” stayed flat.", ["Utilities", "Insurance"]),
        # Identifiers: repositories, files, emails, handles, record ids.
        ("See acme/web for the change.", ["acme/web"]),
        ("Totals are in reports/q4.csv and summary.xlsx.", ["reports/q4.csv", "summary.xlsx"]),
        ("Mail anna@example.org or ping @jdoe.", ["anna@example.org", "@jdoe"]),
        ("Transaction txn-ber-009999 repeats INV-0099.", ["txn-ber-009999", "INV-0099"]),
    ],
)
def test_a_name_the_data_lacks_is_found_as_written(text, invented):
    assert DATA.unknown(text) == invented


@pytest.mark.parametrize(
    "text",
    [
        # Names that are in the data, written as a person would: shortened, possessive, cased.
        "Acme Corporation paid INV-0012 on time.",
        "Acme's invoice INV-0012 is still open.",
        "Globex G.m.b.H. and Globex both appear; GLOBEX paid.",
        "Brightads GmbH and Cloudnine billed the Berlin team.",
        "Jürgen Weiß and James O'Neil's notes agree; ask Anna.",
        "Northwind Consulting invoiced contractors work.",
        "Mail anna.schmidt@example.org about txn-ber-004533 in acme/app (reports/q3.csv).",
        "Berlin Marketing spend rose the most in Europe/Berlin.",
        # Categories as a report writes them: capitalised, singular, with a metric word.
        "Marketing spend rose 38.9% to €4,836.27, the largest change this week.",
        "Contractor spend fell; Software costs were flat against previous_week.",
        # Ordinary prose of a capable model: sentence-initial words, calendar, codes, metrics.
        "Overall, Revenue held steady while Expenses climbed slightly.",
        "Transactions dropped by 12 compared with 2_weeks_ago, a 7-day low.",
        "Worth a look: Monday and Friday were the busiest days in November.",
        "Net result is positive in EUR; Q3 YoY growth looks strong.",
        "Unusual for this team; ask the owner to check it",
        "Duplicate charge: confirm with the vendor and request a refund if needed.",
        "Likely a one-off. Consider reviewing the budget next week.",
        "I would check whether the spike is a timing issue (e.g. an early payment).",
        "TL;DR: spend up. Verify the POS/website sync; no DNS or API outage was seen.",
        # Title-case headings a capable model puts before its bullets.
        "Marketing Spend Surge: the Key Driver was the Marketing Campaign.",
        "Big Jump in Software Supplies; Net Cash Position Weakens; Contractors Cost Rebounds.",
    ],
)
def test_names_in_the_data_and_ordinary_prose_pass(text):
    assert DATA.unknown(text) == []


def test_the_kinds_vocabulary_is_no_name_but_only_for_that_kind():
    text = "Robust z against the Median, Orders and Order revenue."
    assert DATA.unknown(text) == []
    assert Names([]).unknown("Weekly insights by Tyrell") == ["Tyrell"]
    assert Names([], vocabulary=["Tyrell"]).unknown("Weekly insights by Tyrell") == []


def test_candidates_are_in_the_order_the_text_writes_them():
    text = 'Ask Globex about "misc" spend, then mail a@b.org and Acme Corp'
    assert [c.text for c in candidates(text)] == ["Ask Globex", "misc", "a@b.org", "Acme Corp"]


def test_strings_of_walks_nested_rows_and_skips_other_values():
    assert list(strings_of({"a": [1, {"b": "x", "c": None}], "d": ("y", 2.5)})) == ["x", "y"]


def test_prose_options_open_sentences_with_ordinary_words_and_join_words_of_any_value():
    prose = ["Scheduler tests: a locked SQLite metadata DB refused the backfill", "acme/app"]
    strict = Names(prose)
    loose = Names(prose, ordinary_openers=True, words_anywhere=True)
    text = "Useful: backfills on a SQLite DB. Cheaper retries; Explains why"
    assert strict.unknown(text) == ["Useful", "SQLite DB", "Cheaper", "Explains"]
    assert loose.unknown(text) == []
    # A word no value has, a name's marks, an identifier's words apart: still names.
    assert loose.unknown("Grace Hopper asked. GitHub users and SMTP. See acme/web and SKILL_DB") == [
        "Hopper",
        "GitHub",
        "SMTP",
        "acme/web",
        "SKILL_DB",
    ]
    assert loose.unknown("Initech paid") == [] and strict.unknown("Initech paid") == ["Initech"]
