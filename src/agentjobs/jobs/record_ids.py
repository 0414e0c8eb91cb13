"""Record ids as the business database gives them: integers, uuids or any text.

A company's tables key their rows by whatever they like (`42`, `"INV-2026-0042"`, a uuid), so
code that keeps or compares ids holds them as text (`record_id`). Where ids put rows in an
order a reader sees, integer-like ids still sort as numbers (9 before 10, as the sample's
integer ids always did) and other ids after them as text (`id_order`).
"""

from __future__ import annotations

from typing import Any


def record_id(value: Any) -> str:
    """The id as text: `42` and `"42"` are one record; a uuid object is its canonical text."""
    if value is None:
        raise ValueError("a record without an id cannot be tracked (the id column is NULL)")
    text = str(value).strip()
    if not text:
        raise ValueError("a record with an empty id cannot be tracked")
    return text


def id_order(value: Any) -> tuple[int, int, str]:
    """A sort key: integer-like ids by their number first, then every other id by its text."""
    text = record_id(value)
    digits = text[1:] if text[:1] in "+-" else text
    if digits.isascii() and digits.isdigit():
        return (0, int(text), text)
    return (1, 0, text)
