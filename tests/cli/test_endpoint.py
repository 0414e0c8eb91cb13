"""The model the command runs on: the OPENAI_* variables when set, else the agentjobs_llm_default
connection, and what each says about the cost cap."""

from __future__ import annotations

import json
import os

import pytest

from agentjobs.cli.endpoint import CLI_CONN_ID, DEFAULT_CONN_ID, endpoint_connection, model_endpoint

CLI_VARIABLE = f"AIRFLOW_CONN_{CLI_CONN_ID.upper()}"
DEFAULT_VARIABLE = f"AIRFLOW_CONN_{DEFAULT_CONN_ID.upper()}"


@pytest.fixture(autouse=True)
def no_endpoint(monkeypatch):
    for name in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "AGENTJOBS_MODEL", "AGENTJOBS_PRICES"):
        monkeypatch.delenv(name, raising=False)
    for name in (CLI_VARIABLE, DEFAULT_VARIABLE):
        # Set first, so the one model_endpoint() writes is removed again after the test.
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)


def test_no_base_url_means_no_connection_from_the_variables():
    assert endpoint_connection() is None


def test_a_base_url_without_a_model_names_the_variable_to_set(monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    with pytest.raises(SystemExit) as refused:
        endpoint_connection()
    assert str(refused.value) == (
        "agentjobs: OPENAI_BASE_URL is set but AGENTJOBS_MODEL is not; name the model to use"
    )


def test_the_variables_become_the_commands_connection_priced_only_with_prices(monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("AGENTJOBS_MODEL", "gpt-4o-mini")
    with model_endpoint() as endpoint:
        assert (endpoint.conn_id, endpoint.local, endpoint.priced) == (CLI_CONN_ID, False, False)
        assert endpoint.described == "gpt-4o-mini at http://127.0.0.1:9/v1"
        assert "sk-test" not in endpoint.described
        defined = json.loads(os.environ[CLI_VARIABLE])
    assert defined == {
        "conn_type": "agentjobs_llm",
        "description": "set from OPENAI_BASE_URL",  # an unreachable endpoint names the variable
        "host": "http://127.0.0.1:9/v1",
        "password": "sk-test",
        "extra": {"model": "gpt-4o-mini"},
    }
    prices = {"*": {"input": 0.15, "output": 0.6}}
    monkeypatch.setenv("AGENTJOBS_PRICES", json.dumps(prices))
    with model_endpoint() as endpoint:
        assert endpoint.priced
    assert endpoint_connection()["extra"] == {"model": "gpt-4o-mini", "prices": prices}


def test_without_variables_a_defined_default_connection_is_used(monkeypatch):
    monkeypatch.setenv(DEFAULT_VARIABLE, json.dumps({"conn_type": "agentjobs_llm", "extra": {"model": "m"}}))
    with model_endpoint() as endpoint:
        assert (endpoint.conn_id, endpoint.local, endpoint.priced) == (DEFAULT_CONN_ID, False, False)
        assert endpoint.described == "the agentjobs_llm_default connection"
    priced = {
        "conn_type": "agentjobs_llm",
        "extra": {"model": "m", "prices": {"*": {"input": 1, "output": 1}}},
    }
    monkeypatch.setenv(DEFAULT_VARIABLE, json.dumps(priced))
    with model_endpoint() as endpoint:
        assert endpoint.priced


def test_the_variables_win_over_a_defined_default_connection(monkeypatch):
    monkeypatch.setenv(DEFAULT_VARIABLE, json.dumps({"conn_type": "agentjobs_llm", "extra": {"model": "m"}}))
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("AGENTJOBS_MODEL", "scripted")
    with model_endpoint() as endpoint:
        assert endpoint.conn_id == CLI_CONN_ID and endpoint.described == "scripted at http://127.0.0.1:9/v1"
