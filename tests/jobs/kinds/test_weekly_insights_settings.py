"""The weekly_insights spec section: strict, and its bullet range in order."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from agentjobs.jobs.kinds.weekly_insights_settings import Settings


def test_settings_are_strict() -> None:
    with pytest.raises(ValidationError):
        Settings(local_hour="9")  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        Settings.model_validate({"bullets": 3})
    with pytest.raises(ValidationError, match="bullets_min"):
        Settings(bullets_min=4, bullets_max=3)
