"""A validated report.md as a PDF: the text a reader sees, in characters a core font shows, the same
bytes on every render, and each page naming the markdown it came from."""

from __future__ import annotations

import hashlib
import io
from datetime import UTC, datetime

import pytest
from pypdf import PdfReader

from agentjobs.jobs.report_pdf import latin1, plain_text, render_pdf

CREATED = datetime(2026, 11, 1, tzinfo=UTC)
REPORT = """# Compliance report — Team *Berlin*, 2026-10

## Totals

- Revenue: €12,000.00
- Unpaid: 2 invoices

Paid by `Acme\\_GmbH` \\[vendor\\] on 2026-10-03.
"""


def text_of(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("Müller & Søn, Café", "Müller & Søn, Café"),  # Latin-1 stays as it is
        (
            "€12 \u2014 3\u20134 \u201cquoted\u201d \u2018x\u2019 \u2026 \u2022 \u2039a\u203a \u22121",
            "EUR 12 - 3-4 \"quoted\" 'x' ... * <a> -1",
        ),
        ("Łódź Dvořák", "?ódz Dvorák"),  # ź ř to their base letter; Ł has none
        ("\ufb01nance \uff12\uff10\uff12\uff16", "finance 2026"),  # compatibility forms decomposed
        ("Яндекс", "??????"),  # no Latin-1 form: one '?' per character
        ("ok 👍", "ok ?"),
        ("invoice\u202ecod.exe", "invoicecod.exe"),  # bidi override dropped
        ("zero\u200bwidth\u200d soft\u00adhyphen", "zerowidth softhyphen"),
        ("e\u0301\u0301", "e"),  # stray combining marks
        ("a\x00b\x1bc\u2028d", "abcd"),
    ],
)
def test_any_text_becomes_characters_a_core_font_shows(text, shown):
    assert latin1(text) == shown
    latin1(text).encode("latin-1")  # never raises: the render cannot fail on the text


def test_a_markdown_line_is_shown_as_its_text():
    assert plain_text("Paid by `Acme\\_GmbH` \\[vendor\\] \\*not bold\\* &lt;b&gt; AT&amp;T") == (
        "Paid by Acme_GmbH [vendor] *not bold* <b&gt; AT&T"
    )
    assert plain_text("a literal \\` backtick") == "a literal ` backtick"


def test_the_pdf_shows_the_reports_text_and_names_its_markdown_on_every_page():
    pdf = render_pdf(REPORT, created=CREATED)
    assert pdf.startswith(b"%PDF-")
    text = text_of(pdf)
    for shown in (
        "Compliance report - Team *Berlin*, 2026-10",
        "Totals",
        "- Revenue: EUR 12,000.00",
        "Paid by Acme_GmbH [vendor] on 2026-10-03.",
    ):
        assert shown in text
    digest = hashlib.sha256(REPORT.encode()).hexdigest()
    assert f"Rendered from report.md sha256 {digest} - page 1/1" in text
    assert PdfReader(io.BytesIO(pdf)).metadata.title == "Compliance report - Team *Berlin*, 2026-10"


def test_the_same_report_is_the_same_bytes_and_another_report_other_bytes():
    first = render_pdf(REPORT, created=CREATED)
    assert render_pdf(REPORT, created=CREATED) == first
    assert render_pdf(REPORT.replace("12,000", "12,500"), created=CREATED) != first
    assert render_pdf(REPORT, created=datetime(2026, 12, 1, tzinfo=UTC)) != first


def test_a_long_report_runs_over_pages_each_with_its_footer():
    long = "# Long\n" + "\n".join(f"- line {n}" for n in range(200))
    reader = PdfReader(io.BytesIO(render_pdf(long, created=CREATED)))
    pages = len(reader.pages)
    assert pages > 1
    for number, page in enumerate(reader.pages, start=1):
        assert f"- page {number}/{pages}" in page.extract_text()
    assert "line 199" in text_of(render_pdf(long, created=CREATED))


def test_a_report_without_a_title_line_is_titled_report_and_hostile_text_renders():
    hostile = "Vendor: \u202eevil Corp \u200b👍 Яндекс <script>alert(1)</script>\n\n" + "X" * 300
    pdf = render_pdf(hostile, created=CREATED)
    assert PdfReader(io.BytesIO(pdf)).metadata.title == "Report"
    text = text_of(pdf)
    assert "evil Corp ? ?????? <script>alert(1)</script>" in text
    assert text.replace("\n", "").count("X" * 300) == 1  # a long word wraps, nothing is lost
