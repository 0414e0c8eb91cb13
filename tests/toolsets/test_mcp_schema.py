"""An MCP tool's input schema as the args model: the endpoint is sent the server's schema as it is,
and the model's arguments are checked against it with errors that name the argument."""

from __future__ import annotations

import pydantic
import pytest

from agentjobs.agent.tools import Tool, ToolRegistry
from agentjobs.toolsets.mcp_schema import args_model

pytest.importorskip("jsonschema")

SCHEMA = {
    "type": "object",
    "properties": {
        "repo": {"type": "string", "pattern": "^[^/]+/[^/]+$", "description": "owner/name"},
        "state": {"anyOf": [{"enum": ["open", "closed"]}, {"type": "null"}]},
        "labels": {"type": "array", "items": {"$ref": "#/$defs/label"}},
    },
    "required": ["repo"],
    "$defs": {"label": {"type": "string", "maxLength": 5}},
}


def echo(**arguments: object) -> str:
    return repr(sorted(arguments.items()))


def registry_with(model: type[pydantic.BaseModel]) -> ToolRegistry:
    registry = ToolRegistry()
    registry.register(Tool("search_issues", "Search issues.", echo, model))
    return registry


def test_the_endpoint_is_sent_the_server_s_schema_unchanged():
    model = args_model("search.issues", SCHEMA)
    (spec,) = registry_with(model).specs()
    assert spec["function"]["parameters"] == SCHEMA
    assert model.__name__ == "SearchIssuesArgs"
    spec["function"]["parameters"]["required"].append("x")  # a caller's edit changes no later spec
    assert registry_with(model).specs()[0]["function"]["parameters"]["required"] == ["repo"]


def test_arguments_that_fit_pass_through_as_sent():
    outcome = registry_with(args_model("s", SCHEMA)).call(
        "search_issues", '{"repo": "a/b", "state": null, "labels": ["bug"], "extra": {"k": 1}}'
    )
    assert outcome.ok
    assert outcome.content == repr(
        [("extra", {"k": 1}), ("labels", ["bug"]), ("repo", "a/b"), ("state", None)]
    )


def test_arguments_that_do_not_fit_are_named_before_any_call():
    outcome = registry_with(args_model("s", SCHEMA)).call(
        "search_issues", '{"repo": "nope", "state": "merged", "labels": ["enhancement"]}'
    )
    assert not outcome.ok
    assert "labels.0: 'enhancement' is too long" in outcome.content
    assert "repo: 'nope' does not match" in outcome.content
    assert "state: 'merged' is not valid under any of the given schemas" in outcome.content
    missing = registry_with(args_model("s", SCHEMA)).call("search_issues", "{}")
    assert "(arguments): 'repo' is a required property" in missing.content


def test_a_schema_without_an_object_type_is_sent_as_an_object():
    model = args_model("ping", {"properties": {}})
    assert model.model_json_schema() == {"properties": {}, "type": "object"}
    assert registry_with(model).call("search_issues", "").ok


def test_a_broken_schema_lets_the_arguments_through_for_the_server_to_judge(caplog):
    model = args_model("odd", {"type": "object", "properties": {"n": {"type": "integerish"}}})
    assert "has an invalid input schema" in caplog.text
    assert registry_with(model).call("search_issues", '{"n": "x"}').ok
