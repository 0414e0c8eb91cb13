"""The job spec's reference page, written from the models a spec is validated by.

docs/reference/spec.md is this module's output, so the page lists exactly the keys a spec may
have, with their types, defaults and bounds: `JobSpec` and the models below it, every channel
type's model and every shipped kind's section model. A test fails when the file differs from
what the models say, naming the command that rewrites it:

    python -m agentjobs.jobs.spec_reference > docs/reference/spec.md

Each key's meaning is its model's `description`, else the comment on its line in the source.
"""

from __future__ import annotations

import inspect
import re
import sys
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from enum import Enum
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

REGENERATE = "python -m agentjobs.jobs.spec_reference > docs/reference/spec.md"

INTRO = """\
# Job spec reference

<!-- Generated from the spec's pydantic models by agentjobs.jobs.spec_reference; do not edit.
     Regenerate: {regenerate} -->

Every key a job spec (`include/jobs/*.yaml`) may have, as the models that validate it declare
them: the type, the default (*required* when there is none) and the bounds. Unknown keys are
errors. [Jobs as configuration](../specs.md) explains the spec as a whole; each kind's page
explains its section.
"""

_BOUNDS = (("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<"), ("min_length", "length ≥"))
_COMMENT = re.compile(r"^\s+(\w+)\s*:[^#]*#\s*(.+?)\s*$")


@dataclass(frozen=True)
class Section:
    """One table of the page: a model, the YAML path it sits at, and an anchor to link it by."""

    title: str
    anchor: str
    model: type[BaseModel]
    note: str = ""
    path: str = ""  # where its keys sit in the YAML, e.g. "sources.sql"; "" at the top level


def markdown() -> str:
    """The whole page."""
    parts = [INTRO.format(regenerate=REGENERATE)]
    for section in sections():
        parts.append(_table(section))
    return "\n".join(parts)


def sections() -> list[Section]:
    """The top level, the models below it, every channel type and every shipped kind's section."""
    from agentjobs.jobs.channels.registry import ALERT_TYPES, CHANNEL_TYPES
    from agentjobs.jobs.spec import JobSpec

    found: list[Section] = []
    seen: set[type[BaseModel]] = set()
    _walk(Section("Top level", "top-level", JobSpec), found, seen)
    for name, model in CHANNEL_TYPES.items():
        also = " It may also be the spec's `alert:`." if name in ALERT_TYPES else ""
        note = f"An entry of `channels:` with `type: {name}`.{also}"
        _walk(Section(f"Channel `{name}`", f"channel-{name}", model, note, "channels[]"), found, seen)
    for name, model in _kind_models():
        note = f"The top-level `{name}:` section of a spec with `kind: {name}`."
        _walk(Section(f"Kind `{name}`", f"kind-{name}", model, note, name), found, seen)
    return found


def field_names() -> dict[str, set[str]]:
    """Each section's title and the keys it holds (what the docs tests look for in the prose)."""
    return {section.title: set(section.model.model_fields) for section in sections()}


def _kind_models() -> Iterator[tuple[str, type[BaseModel]]]:
    from agentjobs.jobs.kinds.registry import SHIPPED, kind

    for name in SHIPPED:
        model = kind(name).settings_model
        if model is not None:
            yield name, model


def _walk(section: Section, found: list[Section], seen: set[type[BaseModel]]) -> None:
    """Add `section`, then a section for each model its keys hold (once each, depth first)."""
    if section.model in seen:
        return
    seen.add(section.model)
    found.append(section)
    for name, info in section.model.model_fields.items():
        for model in _models_in(info.annotation):
            path = f"{section.path}.{name}" if section.path else name
            anchor = re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-")
            _walk(Section(f"`{path}`", anchor, model, path=path), found, seen)


def _models_in(annotation: Any) -> Iterator[type[BaseModel]]:
    """The pydantic models a key's type holds (inside lists, mappings and unions)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        if not _is_channel(annotation):  # channels have sections of their own
            yield annotation
        return
    for arg in typing.get_args(annotation):
        yield from _models_in(arg)


def _is_channel(model: type[BaseModel]) -> bool:
    from agentjobs.jobs.channels.base import ChannelSpec

    return issubclass(model, ChannelSpec)


def _table(section: Section) -> str:
    doc = section.model.__dict__.get("__doc__") or ""  # its own, not BaseModel's
    lines = [f"## {section.title} {{#{section.anchor}}}", ""]
    if section.note:
        lines += [section.note, ""]
    if doc:
        lines += [" ".join(inspect.cleandoc(doc).split("\n\n")[0].split()), ""]
    lines += ["| key | type | default | bounds | meaning |", "| --- | --- | --- | --- | --- |"]
    comments = _comments(section.model)
    for name, info in section.model.model_fields.items():
        meaning = info.description or comments.get(name, "")
        cells = [f"`{name}`", _type(info.annotation), _default(info), _bounds(info), meaning]
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"


def _comments(model: type[BaseModel]) -> dict[str, str]:
    """The comment on each key's line of the model's source: the spec's prose lives there."""
    found: dict[str, str] = {}
    for cls in reversed(model.__mro__):
        if not (isinstance(cls, type) and issubclass(cls, BaseModel)) or cls is BaseModel:
            continue
        try:
            source = inspect.getsource(cls)
        except (OSError, TypeError):
            continue
        for line in source.splitlines():
            match = _COMMENT.match(line)
            if match and match.group(1) in model.model_fields:
                found[match.group(1)] = match.group(2)
    return found


def _type(annotation: Any) -> str:
    """A key's type in the words of YAML: text, integer, list of ..., one of ..."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is Annotated:
        return _type(args[0])
    if origin is Literal:
        return "one of " + ", ".join(f"`{a}`" for a in args)
    if origin in (Union, types.UnionType):
        named = [_type(a) for a in args if a is not type(None)]
        text = " or ".join(dict.fromkeys(named))
        return f"{text} or null" if type(None) in args else text
    if origin in (list, tuple, set, frozenset):
        return f"list of {_type(args[0])}" if args else "list"
    if origin is dict:
        return f"mapping of {_type(args[0])} to {_type(args[1])}" if args else "mapping"
    if isinstance(annotation, type):
        if issubclass(annotation, BaseModel):
            return "channel" if _is_channel(annotation) else "mapping (below)"
        if issubclass(annotation, Enum):
            return "one of " + ", ".join(f"`{m.value}`" for m in annotation)
        names = {str: "text", int: "integer", float: "number", bool: "boolean", date: "date (YYYY-MM-DD)"}
        return names.get(annotation, annotation.__name__)
    return str(annotation).replace("typing.", "")


def _default(info: FieldInfo) -> str:
    if info.is_required():
        return "*required*"
    value = info.default_factory() if info.default_factory is not None else info.default  # type: ignore[call-arg]
    if value is PydanticUndefined:
        return "*required*"
    if isinstance(value, BaseModel) or (value == {} and info.validate_default and _is_model(info.annotation)):
        return "its defaults"
    if isinstance(value, Enum):
        value = value.value
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return f"`{value}`" if value not in ("", [], {}) else f"`{value!r}`"


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _bounds(info: FieldInfo) -> str:
    found = []
    for item in info.metadata:
        for attr, sign in _BOUNDS:
            value = getattr(item, attr, None)
            if value is not None:
                found.append(f"{sign} {value:,}" if isinstance(value, int) else f"{sign} {value}")
    return ", ".join(found)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


if __name__ == "__main__":
    sys.stdout.write(markdown())
