"""Text that can always be encoded as UTF-8: lone surrogates (from JSON's "\\ud800" or a
surrogateescape decode) become U+FFFD wherever they sit in a message, keys included."""

from __future__ import annotations

import json

import pytest

from agentjobs.agent.unicode_text import (
    has_lone_surrogates,
    make_valid_from,
    valid_unicode,
    valid_unicode_json,
)

LONE = json.loads('"a\\ud800b"')  # what a hostile feed item or model reply can decode to


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (LONE, "a\ufffdb"),
        ("\udfff at the start", "\ufffd at the start"),
        ("two \ud800\ud800", "two \ufffd\ufffd"),
        (json.loads('"\\ud83d\\ude00"'), "😀"),  # a pair split by JSON escaping is one character
        ("plain, ünïcödé 😀", "plain, ünïcödé 😀"),
    ],
)
def test_lone_surrogates_become_the_replacement_character(text, expected):
    valid = valid_unicode(text)
    assert valid == expected
    valid.encode("utf-8")  # the point: it can be sent


def test_text_without_surrogates_is_returned_as_it_is():
    text = "nothing to fix " * 1000
    assert valid_unicode(text) is text


@pytest.mark.parametrize(
    ("value", "found"),
    [
        ({"role": "user", "content": "fine ü"}, False),
        ({"role": "tool", "content": [{"text": LONE}]}, True),
        ({LONE: "in a key"}, True),
        ({"content": None, "n": 3}, False),
        ({"not json": {1, 2}}, True),  # cannot be checked cheaply: the slow path decides
    ],
)
def test_surrogates_are_found_anywhere_in_a_message(value, found):
    assert has_lone_surrogates(value) is found


def test_a_message_is_repaired_in_keys_and_nested_values_and_keeps_its_other_values():
    message = {"role": "tool", LONE: [LONE, 3, None, (LONE, True)], "n": 1.5}
    repaired = valid_unicode_json(message)
    assert repaired == {"role": "tool", "a\ufffdb": ["a\ufffdb", 3, None, ["a\ufffdb", True]], "n": 1.5}
    json.dumps(repaired, ensure_ascii=False).encode("utf-8")


def test_a_growing_history_is_checked_from_where_the_last_check_ended():
    history = [{"content": "checked before"}, {"content": LONE}]
    checked = make_valid_from(history, 1)
    assert checked == 2 and history[1] == {"content": "a\ufffdb"}
    history.append({"content": "new " + LONE})
    assert make_valid_from(history, checked) == 3
    assert history == [{"content": "checked before"}, {"content": "a\ufffdb"}, {"content": "new a\ufffdb"}]
    # Messages before `start` were checked already and are not looked at again.
    old = [{"content": LONE}]
    assert make_valid_from(old, 1) == 1 and old == [{"content": LONE}]


def test_a_one_shot_encoder_writes_what_its_encoder_writes() -> None:
    import json

    from agentjobs.agent.unicode_text import one_shot_encoder

    values = [
        {"b": 1, "a": [1.5, -0.0, 1e300, None, True], "é": 'naïve \u2028 "q" \\ \x00'},
        "plain string",
        [{"nested": {"deeper": [{"x": 10**20}]}}],
        {1: "int key", 2.5: "float key", False: "bool key"},
    ]
    for options in (
        {"ensure_ascii": False, "allow_nan": False},
        {"sort_keys": True, "separators": (",", ":"), "ensure_ascii": False, "default": str},
        {"ensure_ascii": True},
    ):
        encoder = json.JSONEncoder(**options)
        encode = one_shot_encoder(encoder)
        for value in values:
            assert encode(value) == encoder.encode(value)
    strict = one_shot_encoder(json.JSONEncoder(ensure_ascii=False, allow_nan=False))
    for refused in ({"nan": float("nan")}, {"object": object()}):
        with pytest.raises((ValueError, TypeError)):
            strict(refused)
    loop: list = []
    loop.append(loop)
    with pytest.raises((ValueError, RecursionError)):  # what json_text and json_line catch
        strict(loop)
