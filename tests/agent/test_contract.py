from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentjobs.agent.contract import RESULT_PREFIX, parse_result_line, parse_structured, result_instructions
from agentjobs.agent.errors import ContractViolation
from agentjobs.agent.skills import load_skill, model_from_json_schema

SECRET = "sk-abcdefghijklmnopqrstuvwx"
SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["path", "items"],
    "properties": {"path": {"type": "string"}, "items": {"type": "integer", "minimum": 0}},
}
Model = model_from_json_schema(SCHEMA, "EchoResult")
EXPECTED_LINE = 'RESULT: {"path": <string>, "items": <integer>}'


def violation(reply: str, secrets: tuple[str, ...] = ()) -> str:
    with pytest.raises(ContractViolation) as info:
        parse_result_line(reply, Model, secrets=secrets)
    message = str(info.value)
    assert EXPECTED_LINE in message  # every violation says what was expected
    assert len(message) <= 1500
    return message


def structured_violation(reply: str) -> str:
    with pytest.raises(ContractViolation) as info:
        parse_structured(reply, Model)
    message = str(info.value)
    assert '{"path": <string>, "items": <integer>}' in message
    return message


# --- RESULT line -------------------------------------------------------------------------------


def test_success_with_surrounding_prose() -> None:
    reply = 'I wrote the file.\nAll good.\n\nRESULT: {"path": "answer.txt", "items": 3}  \n\n'
    result = parse_result_line(reply, Model)
    assert result.model_dump() == {"path": "answer.txt", "items": 3}


def test_success_with_echo_skill_model() -> None:
    skills = Path(__file__).resolve().parents[2] / "include" / "skills"
    model = load_skill("echo", skills).result_model()
    result = parse_result_line('Done.\n  RESULT: {"path": "answer.txt", "items": 0}', model)
    assert result.model_dump() == {"path": "answer.txt", "items": 0}


def test_missing_result_line() -> None:
    message = violation("I wrote answer.txt with 3 items.")
    assert "no RESULT line" in message
    assert "I wrote answer.txt with 3 items." in message  # the reply's tail is quoted


def test_empty_reply() -> None:
    assert "(empty reply)" in violation("   \n")


def test_two_result_lines() -> None:
    reply = 'RESULT: {"path": "a", "items": 1}\nfixing\nRESULT: {"path": "b", "items": 2}'
    assert "more than one RESULT line (lines 1, 3)" in violation(reply)


def test_text_after_result_line() -> None:
    reply = 'RESULT: {"path": "answer.txt", "items": 3}\nHope this helps!'
    assert "text after the RESULT line" in violation(reply)


def test_invalid_json() -> None:
    message = violation('RESULT: {"path": "answer.txt", "items": 3')
    assert "invalid JSON in the RESULT line" in message
    assert "Expecting" in message  # the json module's own explanation


DEEP = '{"path": ' + "[" * 10_000 + "]" * 10_000 + ', "items": 1}'
HUGE = '{"path": "a", "items": 1' + "0" * 5_000 + "}"


def test_a_deeply_nested_result_is_a_violation_not_a_recursion_error() -> None:
    assert "the RESULT line nests JSON more than 64 levels deep" in violation("RESULT: " + DEEP)
    assert "the reply nests JSON more than 64 levels deep" in structured_violation(DEEP)


def test_nesting_the_json_module_reads_but_pydantic_cannot_serialise_is_a_violation() -> None:
    # 300 levels: json.loads manages, pydantic's serialiser (~255 levels) would raise ValueError.
    loose = model_from_json_schema({"type": "object", "properties": {"data": {}}}, "Loose")
    nested = '{"data": ' + "[" * 300 + "]" * 300 + "}"
    with pytest.raises(ContractViolation, match="nests JSON more than 64 levels deep"):
        parse_structured(nested, loose)
    shallow = '{"data": ' + "[" * 60 + "]" * 60 + "}"
    parse_structured(shallow, loose).model_dump(mode="json")


def test_a_5000_digit_integer_is_a_violation_not_a_value_error() -> None:
    message = violation("RESULT: " + HUGE)
    assert "the RESULT line holds an integer of more than 4300 digits" in message
    assert "set_int_max_str_digits" not in message  # no advice the model cannot act on
    assert "holds an integer of more than 4300 digits" in structured_violation(HUGE)


def test_trailing_data_after_json_is_invalid() -> None:
    assert "invalid JSON" in violation('RESULT: {"path": "a", "items": 1} {"more": 1}')


def test_empty_payload() -> None:
    assert "holds no JSON" in violation("RESULT:")


@pytest.mark.parametrize(("payload", "kind"), [("[1, 2]", "array"), ('"done"', "string"), ("3", "number")])
def test_non_object(payload: str, kind: str) -> None:
    assert f"holds a JSON {kind}, not an object" in violation(f"RESULT: {payload}")


def test_string_for_int_is_a_violation() -> None:
    message = violation('RESULT: {"path": "answer.txt", "items": "3"}')
    assert "does not match the schema" in message
    assert "items: Input should be a valid integer (got string)" in message


def test_extra_field_is_a_violation() -> None:
    message = violation('RESULT: {"path": "answer.txt", "items": 3, "note": "hi"}')
    assert "note: Extra inputs are not permitted" in message


def test_missing_field_and_constraint_are_listed() -> None:
    message = violation('RESULT: {"items": -1}')
    assert "path: Field required" in message
    assert "items: Input should be greater than or equal to 0" in message


def test_tail_is_scrubbed() -> None:
    reply = f"I used the key {SECRET} and the password hunter22.\nno result here"
    message = violation(reply, secrets=("hunter22",))
    assert SECRET not in message
    assert "hunter22" not in message
    assert "no result here" in message


def test_secret_in_invented_field_name_is_scrubbed() -> None:
    message = violation(f'RESULT: {{"path": "a", "items": 1, "{SECRET}": 1}}')
    assert SECRET not in message


def test_long_reply_is_cut_to_its_tail() -> None:
    reply = "START " + "blah " * 2000 + "the end"
    message = violation(reply)
    assert "START" not in message
    assert "…" in message and "the end" in message


# --- structured --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "reply",
    [
        '{"path": "answer.txt", "items": 3}',
        '\n  {"path": "answer.txt", "items": 3}  \n',
        '```json\n{"path": "answer.txt", "items": 3}\n```',
        '```\n{"path": "answer.txt", "items": 3}\n```\n',
    ],
)
def test_structured_success(reply: str) -> None:
    assert parse_structured(reply, Model).model_dump() == {"path": "answer.txt", "items": 3}


def test_structured_prose_is_invalid_json() -> None:
    assert "invalid JSON in the reply" in structured_violation('Here it is: {"path": "a", "items": 1}')


def test_structured_non_object() -> None:
    assert "holds a JSON array, not an object" in structured_violation('```json\n[{"path": "a"}]\n```')


def test_structured_schema_mismatch() -> None:
    message = structured_violation('{"path": "answer.txt", "items": "3", "x": 1}')
    assert "items: Input should be a valid integer" in message
    assert "x: Extra inputs are not permitted" in message


def test_structured_tail_is_scrubbed() -> None:
    with pytest.raises(ContractViolation) as info:
        parse_structured(f"my key is {SECRET}", Model)
    assert SECRET not in str(info.value)


# --- instructions ------------------------------------------------------------------------------


def test_result_instructions() -> None:
    text = result_instructions(Model.model_json_schema())
    assert EXPECTED_LINE in text
    assert "exactly one line" in text
    # The schema is included as one JSON document the model can follow.
    schema_line = next(line for line in text.splitlines() if line.startswith("{"))
    assert json.loads(schema_line)["required"] == ["path", "items"]
    assert text.count(RESULT_PREFIX) >= 1


def test_result_instructions_from_raw_schema_with_nesting() -> None:
    schema = {
        "type": "object",
        "properties": {
            "files": {"type": "array", "items": {"type": "object", "properties": {"p": {"type": "string"}}}},
            "note": {"type": ["string", "null"]},
            "level": {"enum": ["low", "high"]},
        },
    }
    text = result_instructions(schema)
    assert (
        'RESULT: {"files": [{"p": <string>}, ...], "note": <string> | null, "level": "low" | "high"}' in text
    )
    # The same shape comes out of the pydantic model's schema ($defs/$ref, anyOf).
    model_text = result_instructions(model_from_json_schema(schema).model_json_schema())
    assert '"files": [{"p": <string>}, ...]' in model_text
    assert '"note": <string> | null' in model_text
