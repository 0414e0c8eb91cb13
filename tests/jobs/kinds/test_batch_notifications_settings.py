"""The batch_notifications spec section: windows of the UTC clock, on a run, of known categories."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from agentjobs.jobs.kinds.batch_notifications_settings import Settings


@pytest.mark.parametrize(
    ("section", "named"),
    [
        ({"windows": {"invoice_paid": 7}}, "invoice_paid: 7 minutes"),
        ({"windows": {"invoice_sent": 10}}, "unknown event category 'invoice_sent'"),
        ({"run_every_minutes": 15, "windows": {"invoice_paid": 10}}, "windows.invoice_paid"),
        ({"summary": "always"}, "summary"),
    ],
)
def test_a_bad_section_names_the_field_and_the_fix(section: dict[str, Any], named: str):
    with pytest.raises(ValidationError, match=named):
        Settings.model_validate(section)
