"""An MCP tool's input JSON schema as the pydantic args model an agentjobs `Tool` needs.

`tool_from_function` builds the model from a signature; an MCP tool arrives with a JSON schema
instead, which may use anything JSON Schema has (`anyOf`, `$ref`, `enum`, patterns, nested
objects). Translating that into pydantic fields would lose some of it, so the model keeps the
server's schema as it is: `model_json_schema()` returns it (that is what the endpoint is sent),
and validation runs `jsonschema` against it, so the model's mistakes come back as a readable
error naming the argument, before the call reaches the server.
"""

from __future__ import annotations

import copy
import logging
import re
from collections.abc import Mapping
from typing import Any, ClassVar

import pydantic

log = logging.getLogger(__name__)

_MAX_ERRORS = 5  # more than this and the model gets the first five: it fixes them and retries


class MCPArgs(pydantic.BaseModel):
    """Arguments checked against an MCP tool's input schema; every argument passes through."""

    model_config = pydantic.ConfigDict(extra="allow")
    input_schema: ClassVar[dict[str, Any]] = {"type": "object"}

    @classmethod
    def model_json_schema(cls, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return copy.deepcopy(cls.input_schema)


def args_model(tool_name: str, input_schema: Mapping[str, Any]) -> type[MCPArgs]:
    """A model whose schema is `input_schema` and whose validation is JSON Schema's."""
    from jsonschema import exceptions, validators

    schema = copy.deepcopy(dict(input_schema))
    if schema.get("type") != "object":
        # Chat-completions endpoints take an object's schema as a function's parameters only.
        schema = {**schema, "type": "object"}
    checker = validators.validator_for(schema)
    try:
        checker.check_schema(schema)
        validator: Any = checker(schema)
    except exceptions.SchemaError as exc:
        # The server's schema is broken: its arguments go through unchecked and the server judges.
        log.warning(
            "MCP tool %s has an invalid input schema (%s); its arguments are not checked", tool_name, exc
        )
        validator = None

    class Args(MCPArgs):
        input_schema: ClassVar[dict[str, Any]] = schema

        @pydantic.model_validator(mode="before")
        @classmethod
        def against_schema(cls, data: Any) -> Any:
            if validator is None:
                return data
            errors = sorted(validator.iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path])
            if errors:
                raise ValueError("; ".join(_readable(e) for e in errors[:_MAX_ERRORS]))
            return data

    name = "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]+", tool_name) if part)
    Args.__name__ = Args.__qualname__ = f"{name or 'McpTool'}Args"
    return Args


def _readable(error: Any) -> str:
    where = ".".join(str(part) for part in error.absolute_path) or "(arguments)"
    return f"{where}: {error.message}"
