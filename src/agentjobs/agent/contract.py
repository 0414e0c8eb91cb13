"""The output contract: how a model's final answer is turned into a validated result.

In loop mode the answer must end with exactly one line `RESULT: {json}`; in structured mode the
whole answer is the JSON object. Anything else is a ContractViolation (permanent: the same
prompt would fail the same way), whose message says what was wrong, what was expected and
quotes the scrubbed end of the reply so the failure can be understood from the task log alone.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import Any

from pydantic import BaseModel, ValidationError

from agentjobs.agent.errors import ContractViolation
from agentjobs.agent.scrub import scrub, tail

RESULT_PREFIX = "RESULT:"

_Violation = Callable[[str], ContractViolation]

# Budget for the quoted reply and for the problem text, so a message stays around 1500 chars
# (it ends up in Slack/e-mail notifications and in XCom).
_TAIL_CHARS = 400
_PROBLEM_CHARS = 600
_MAX_FIELD_ERRORS = 8

# Deepest nesting of arrays/objects a result may have. Contracts are a few levels deep; a reply
# nested thousands of levels would otherwise end the run in a RecursionError (json) or a
# ValueError (pydantic serialises at most ~255 levels) instead of a violation with a repair turn.
MAX_DEPTH = 64

# A whole reply wrapped in one markdown code fence, with or without a language tag.
_FENCE = re.compile(r"^```[A-Za-z0-9_-]*[ \t]*\n(?P<body>.*?)\n?```$", re.DOTALL)


def parse_result_line(reply: str, model: type[BaseModel], *, secrets: Iterable[str] = ()) -> BaseModel:
    """Validate the `RESULT: {json}` line that must end `reply`; raise ContractViolation otherwise."""
    secrets = tuple(secrets)
    expected = "end with exactly one line: " + _example_line(model)

    def violation(problem: str) -> ContractViolation:
        return _violation(problem, expected, reply, secrets)

    lines = reply.rstrip().splitlines()
    # Leading whitespace is tolerated: models sometimes indent the last line.
    found = [i for i, line in enumerate(lines) if line.lstrip().startswith(RESULT_PREFIX)]
    if not found:
        raise violation("no RESULT line")
    if len(found) > 1:
        numbers = ", ".join(str(i + 1) for i in found)
        raise violation(f"more than one RESULT line (lines {numbers})")
    # rstrip() removed trailing blank lines, so the last line is the last non-empty one.
    if found[0] != len(lines) - 1:
        raise violation("text after the RESULT line")

    payload = lines[found[0]].strip()[len(RESULT_PREFIX) :].strip()
    return _validate(_load_object(payload, violation, "the RESULT line"), model, violation)


def parse_structured(reply: str, model: type[BaseModel], *, secrets: Iterable[str] = ()) -> BaseModel:
    """Validate a reply that is one JSON object (optionally inside a ```json fence)."""
    secrets = tuple(secrets)
    expected = "reply with only a JSON object like " + _example_line(model).removeprefix(RESULT_PREFIX + " ")

    def violation(problem: str) -> ContractViolation:
        return _violation(problem, expected, reply, secrets)

    text = reply.strip()
    fenced = _FENCE.match(text)
    if fenced:
        text = fenced.group("body").strip()
    return _validate(_load_object(text, violation, "the reply"), model, violation)


def parse_result_dict(
    result: dict[str, Any], model: type[BaseModel], *, own_json: bool = False
) -> dict[str, Any]:
    """Validate a RESULT built in code (e.g. rendered from a structured answer) against the contract.
    `own_json`: dump it as the model's own JSON (its `model_dump`, as a DAG author's pydantic model
    writes itself) rather than by the JSON names of a contract built from a schema."""
    expected = "a RESULT like " + _example_line(model).removeprefix(RESULT_PREFIX + " ")

    def violation(problem: str) -> ContractViolation:
        return _violation(problem, expected, json.dumps(result, default=str), ())

    valid = _validate(result, model, violation)
    return valid.model_dump(mode="json") if own_json else valid.model_dump(mode="json", by_alias=True)


def result_instructions(model_schema: dict) -> str:
    """The system-prompt paragraph telling the model how to end its answer."""
    schema_json = json.dumps(model_schema, ensure_ascii=False, separators=(",", ":"))
    return (
        "When the task is done, end your answer with exactly one line of the form\n"
        f"{_example_from_schema(model_schema)}\n"
        f"The JSON after {RESULT_PREFIX!r} must be one JSON object on that single line, matching this "
        f"JSON Schema:\n{schema_json}\n"
        "Use JSON types exactly (integers as numbers, not strings), add no fields the schema does not "
        f"list, write {RESULT_PREFIX!r} nowhere else, and write nothing after the RESULT line."
    )


def _load_object(text: str, violation: _Violation, what: str) -> dict[str, Any]:
    if not text:
        raise violation(f"{what} holds no JSON")
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise violation(f"invalid JSON in {what}: {exc}") from exc
    except RecursionError:
        raise violation(f"{what} nests JSON more than {MAX_DEPTH} levels deep") from None
    except ValueError:  # the only other thing json.loads refuses: an integer too long to convert
        raise violation(
            f"{what} holds an integer of more than {sys.get_int_max_str_digits()} digits"
        ) from None
    if not isinstance(value, dict):
        raise violation(f"{what} holds a JSON {_json_type(value)}, not an object")
    if _nests_deeper_than(value, MAX_DEPTH):
        raise violation(f"{what} nests JSON more than {MAX_DEPTH} levels deep")
    return value


def _nests_deeper_than(value: Any, limit: int) -> bool:
    """Whether arrays/objects in `value` nest more than `limit` levels (iterative: no recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def _validate(value: dict[str, Any], model: type[BaseModel], violation: _Violation) -> BaseModel:
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        shown = [_field_error(err) for err in errors]
        if len(shown) > _MAX_FIELD_ERRORS:
            shown = [*shown[:_MAX_FIELD_ERRORS], f"... {len(errors) - _MAX_FIELD_ERRORS} more"]
        raise violation("the result does not match the schema: " + "; ".join(shown)) from None


def _field_error(err: Any) -> str:
    where = ".".join(str(p) for p in err["loc"]) or "(root)"
    # Name the JSON type received for type errors ("got string" explains "3" for an integer)
    # without quoting the value itself, which may be long.
    got = f" (got {_json_type(err['input'])})" if err["type"].endswith("_type") else ""
    return f"{where}: {err['msg']}{got}"


def _violation(problem: str, expected: str, reply: str, secrets: tuple[str, ...]) -> ContractViolation:
    # The problem text can echo model output (e.g. invented field names), so it is scrubbed too.
    problem = scrub(problem, secrets)
    if len(problem) > _PROBLEM_CHARS:
        problem = problem[: _PROBLEM_CHARS - 1] + "…"
    quoted = tail(reply, _TAIL_CHARS, secrets) if reply.strip() else "(empty reply)"
    return ContractViolation(
        f"output contract violated: {problem}. Expected: {expected}\nEnd of the reply (scrubbed):\n{quoted}"
    )


def _json_type(value: Any) -> str:
    names = {list: "array", str: "string", bool: "boolean", int: "number", float: "number"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


# A model class's schema does not change, and every parse quotes its shape (pydantic builds the
# schema anew each time it is asked, a millisecond for a small one). Bounded: a run may build
# its own result model (RunPlan.result_schema), and a cached class is kept alive.
@lru_cache(maxsize=128)
def _example_line(model: type[BaseModel]) -> str:
    return _example_from_schema(model.model_json_schema())


def _example_from_schema(schema: dict[str, Any]) -> str:
    """`RESULT: {"path": <string>, "items": <integer>}`: a one-line shape of the expected object."""
    example = _shape(schema, schema.get("$defs", {}), depth=0)
    line = f"{RESULT_PREFIX} {example}"
    return line if len(line) <= 300 else line[:299] + "…"


def _shape(schema: Any, defs: dict[str, Any], depth: int) -> str:
    if not isinstance(schema, dict):
        return "<any>"
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        schema = defs.get(ref.removeprefix("#/$defs/"), {})
    if "enum" in schema:
        return " | ".join(json.dumps(v) for v in schema["enum"])
    if "const" in schema:
        return json.dumps(schema["const"])
    for union in ("anyOf", "oneOf"):
        if union in schema:
            return " | ".join(_shape(s, defs, depth) for s in schema[union])
    kind = schema.get("type")
    if isinstance(kind, list):
        return " | ".join(_shape({**schema, "type": k}, defs, depth) for k in kind)
    if kind == "object":
        props = schema.get("properties") or {}
        if not props or depth > 2:
            return "{...}"
        fields = (f"{json.dumps(k)}: {_shape(v, defs, depth + 1)}" for k, v in props.items())
        return "{" + ", ".join(fields) + "}"
    if kind == "array":
        return f"[{_shape(schema.get('items', {}), defs, depth + 1)}, ...]"
    if kind == "null":
        return "null"
    return f"<{kind}>" if isinstance(kind, str) else "<any>"
