"""Text that can always be encoded as UTF-8.

A Python string may hold lone surrogates: JSON's `"\\ud800"` decodes to one, and so does text
decoded with `surrogateescape`. Such a string cannot be written as UTF-8, so a feed item or a
model reply holding one would make the next request to the model (and the replay fingerprint
of it) fail to encode. Lone surrogates become U+FFFD; a surrogate pair is joined into its
character.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from json import encoder as _json_encoder
from typing import Any

_SURROGATE = re.compile("[\ud800-\udfff]")


def one_shot_encoder(encoder: json.JSONEncoder) -> Callable[[Any], str]:
    """`encoder.encode`, made once: the same text, without what `encode` sets up again on every
    call (a new C encoder, a closure, a dict of markers), which on a reply of a few hundred bytes
    is a fifth of the work. The agent loop encodes several values every model call.

    It does not look for circular references: a value holding itself raises RecursionError (as a
    value nested too deep does) where `encode` raises ValueError; callers catch both. Without the
    markers it keeps no state between calls, so threads (a chunk's teams) may share it.
    """
    make = _json_encoder.c_make_encoder
    if make is None or encoder.indent is not None:  # no C accelerator: the plain method
        return encoder.encode
    ascii_only = encoder.ensure_ascii
    strings = _json_encoder.encode_basestring_ascii if ascii_only else _json_encoder.encode_basestring
    chunks = make(
        None,  # markers: no circular check (see above)
        encoder.default,
        strings,
        None,  # indent
        encoder.key_separator,
        encoder.item_separator,
        encoder.sort_keys,
        encoder.skipkeys,
        encoder.allow_nan,
    )
    join = "".join

    def encode(value: Any) -> str:
        return join(chunks(value, 0))

    return encode


# has_lone_surrogates' encoder, made once: it runs on every message and every reply, and
# json.dumps with options builds a new encoder each call.
_ENCODER = one_shot_encoder(json.JSONEncoder(ensure_ascii=False))
# json_text's encoder: the transcript's way of writing JSON (scrub.json_line), so a text made
# here can be spliced into a transcript line as it is.
encode_json_text = one_shot_encoder(json.JSONEncoder(ensure_ascii=False, allow_nan=False))


def valid_unicode(text: str) -> str:
    """`text` with every lone surrogate replaced by U+FFFD (unchanged, and fast, without any)."""
    if not _SURROGATE.search(text):
        return text
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def has_lone_surrogates(value: Any) -> bool:
    """Whether any string in the JSON-shaped `value` (keys too) holds a surrogate, found by the C
    encoder in one pass rather than by copying `value` string by string."""
    try:
        text = _ENCODER(value)
    except (TypeError, ValueError, RecursionError):
        return True  # not plain JSON: valid_unicode_json tells
    return text_has_lone_surrogates(text)


def json_text(value: Any) -> str | None:
    """`value` as JSON text, non-ASCII characters as they are and NaN refused (the transcript's
    encoding); None when `value` is not plain JSON. The agent loop encodes each reply once with
    it: the text finds lone surrogates, and the transcript line and the task state store reuse it."""
    try:
        return encode_json_text(value)
    except (TypeError, ValueError, RecursionError):
        return None


def text_has_lone_surrogates(text: str) -> bool:
    """Whether the JSON text `text` (as json_text or has_lone_surrogates writes it) holds a surrogate."""
    return not text.isascii() and _SURROGATE.search(text) is not None


def valid_unicode_json(value: Any) -> Any:
    """`value` with valid_unicode applied to every string in it, keys too; other values as they are."""
    if isinstance(value, str):
        return valid_unicode(value)
    if isinstance(value, dict):
        return {valid_unicode_json(k): valid_unicode_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [valid_unicode_json(v) for v in value]
    return value


def make_valid_from(messages: list[Any], start: int) -> int:
    """Apply valid_unicode_json, in place, to `messages[start:]`; return the new checked length.

    For a history that only grows (the agent loop's): each message is checked once, before the
    first request that carries it, instead of the whole history again before every request.
    """
    for index in range(start, len(messages)):
        if has_lone_surrogates(messages[index]):
            messages[index] = valid_unicode_json(messages[index])
    return len(messages)
