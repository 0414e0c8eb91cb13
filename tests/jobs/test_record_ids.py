"""Record ids as text, and the order a reader sees them in."""

from __future__ import annotations

import uuid

import pytest

from agentjobs.jobs.record_ids import id_order, record_id


def test_ids_of_any_shape_are_text_and_integer_ids_sort_as_numbers_before_the_rest():
    uid = uuid.UUID("0b8f6c0e-4a4e-4d8e-9a57-1c2f3e4d5a6b")
    assert record_id(42) == record_id("42") == "42"
    assert record_id(uid) == "0b8f6c0e-4a4e-4d8e-9a57-1c2f3e4d5a6b"
    ids = ["INV-2", 10, "9", str(uid), -1, 100]
    assert sorted(ids, key=id_order) == [-1, "9", 10, 100, str(uid), "INV-2"]


@pytest.mark.parametrize("missing", [None, "", "  "])
def test_a_row_without_an_id_is_refused_with_the_reason(missing):
    with pytest.raises(ValueError, match="id"):
        record_id(missing)
