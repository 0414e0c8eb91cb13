"""A validated report.md as a PDF (fpdf2): the same text, laid out, the same bytes on every render.

The PDF is rendered from the markdown the check passed, never from the model's answer, so it
cannot say more than the report. It is deterministic (creation date given, no clock), so a retry
renders the very bytes stored before and the store can tell "the same report" from "another one".
Each page's footer carries the sha256 of the markdown it was rendered from.

fpdf2's core fonts hold Latin-1 only, and no TTF ships with fpdf2: text from the database (a
vendor named in Cyrillic, an emoji, a right-to-left override) is transliterated to Latin-1
(`latin1`), with invisible format characters dropped and anything else shown as '?', so hostile
text never fails a render. The markdown keeps the original text (less its bidi controls, which
markdown_text drops for every channel).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from datetime import datetime

from agentjobs.jobs.markdown_text import unescape

FONT = "helvetica"
# What Latin-1 lacks but a report writes: the euro sign becomes its code, so amounts stay readable.
_REPLACEMENTS = {
    "\u20ac": "EUR ",
    "\u2014": "-",
    "\u2013": "-",
    "\u2212": "-",
    "\u2018": "'",
    "\u2019": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u2026": "...",
    "\u2022": "*",
    "\u2039": "<",
    "\u203a": ">",
    "\u202f": " ",
    "\u2009": " ",
}
_CODE = re.compile(r"(?<!\\)`")


def latin1(text: str) -> str:
    """`text` in characters a core font can show: kept, replaced, transliterated or '?'."""
    out: list[str] = []
    for char in text:
        category = unicodedata.category(char)
        if char in _REPLACEMENTS:
            out.append(_REPLACEMENTS[char])
        elif category in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp") or category.startswith("M"):
            continue  # controls, bidi overrides, zero-width and stray combining marks: invisible anyway
        elif ord(char) < 256:
            out.append(char)
        else:
            base = "".join(c for c in unicodedata.normalize("NFKD", char) if ord(c) < 256 and c.isprintable())
            out.append(base or "?")
    return "".join(out)


def plain_text(markdown_line: str) -> str:
    """One markdown line as the text it shows (no code spans, no escapes), in Latin-1."""
    return latin1(unescape(_CODE.sub("", markdown_line)))


def render_pdf(markdown: str, *, created: datetime) -> bytes:
    """A4 pages: `# ` the title, `## ` section headings, `- ` bullets, other lines paragraphs."""
    from fpdf import FPDF
    from fpdf.enums import XPos, YPos

    digest = hashlib.sha256(markdown.encode("utf-8")).hexdigest()

    class Report(FPDF):
        def footer(self) -> None:
            self.set_y(-12)
            self.set_font(FONT, size=7)
            self.cell(0, 5, f"Rendered from report.md sha256 {digest} - page {self.page_no()}/{{nb}}")

    pdf = Report(format="A4")
    pdf.set_creation_date(created)
    pdf.set_auto_page_break(auto=True, margin=16)
    pdf.set_margins(18, 16, 18)
    lines = markdown.split("\n")
    title = next((plain_text(line[2:]) for line in lines if line.startswith("# ")), "Report")
    pdf.set_title(title)
    pdf.add_page()

    def write(text: str, *, size: float, style: str = "", gap: float = 0, indent: float = 0) -> None:
        pdf.set_font(FONT, style=style, size=size)
        pdf.set_x(pdf.l_margin + indent)
        pdf.multi_cell(0, size * 0.5, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        if gap:
            pdf.ln(gap)

    for line in lines:
        if not line.strip():
            pdf.ln(2)
        elif line.startswith("# "):
            write(plain_text(line[2:]), size=15, style="B", gap=2)
        elif line.startswith("## "):
            write(plain_text(line[3:]), size=12, style="B", gap=1)
        elif line.startswith("- "):
            write("- " + plain_text(line[2:]), size=9.5, indent=3)
        else:
            write(plain_text(line), size=10)
    return bytes(pdf.output())
