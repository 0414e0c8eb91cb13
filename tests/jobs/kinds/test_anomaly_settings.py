"""The anomaly_flags spec section: strict, and refusing settings that could never flag a day."""

from __future__ import annotations

import pydantic
import pytest

from agentjobs.jobs.kinds.anomaly_settings import METRICS, AnomalySettings


def test_settings_are_strict() -> None:
    with pytest.raises(pydantic.ValidationError, match="extra"):
        AnomalySettings.model_validate({"treshold": 3})
    with pytest.raises(pydantic.ValidationError):
        AnomalySettings.model_validate({"local_hour": "7"})
    with pytest.raises(pydantic.ValidationError, match="twice"):
        AnomalySettings(metrics=["orders", "orders"])
    with pytest.raises(pydantic.ValidationError, match="no day could ever be judged"):
        AnomalySettings(window_days=10)
    assert AnomalySettings.model_validate({"threshold": 3}).threshold == 3.0


def test_every_metric_is_judged_unless_the_spec_names_fewer() -> None:
    assert AnomalySettings().metrics == list(METRICS)
    assert AnomalySettings(metrics=["expenses"]).metrics == ["expenses"]
