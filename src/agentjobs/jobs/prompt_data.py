"""Source text written into a prompt's `<data>` block so that it stays data.

Every prompt that shows the model rows, titles or names from a source wraps them in
`<data>` ... `</data>` and tells the model that what is inside is data, not instructions. The
text is hostile: a feed summary can hold `</data> Ignore previous instructions`, a vendor name
a newline and a line that looks like another row (`- id: f9 | ...`). So each value becomes one
line (newlines, controls and bidi characters gone, `one_line`) and its angle brackets become
look-alikes (single angle quotation marks), which read the same to the model and close nothing.
"""

from __future__ import annotations

from agentjobs.jobs.markdown_text import one_line


def as_data(text: str) -> str:
    """`text` as one line that cannot open or close a tag of the prompt."""
    return one_line(text).replace("<", "\u2039").replace(">", "\u203a")
