"""DAG Params whose JSON schemas are cheap to check each time a DAG file is parsed.

Airflow resolves every DAG Param while it builds the DAG (DAG.__init__ validates its params),
and again whenever an operator copies them. Param.resolve calls jsonschema.validate, which
first checks the schema itself against its metaschema; a schema without "$schema" is checked
against the 2020-12 metaschema (every vocabulary, $dynamicRef), which costs 0.2 ms for a
boolean Param and 3 ms for the caps object as pydantic writes it, on every DAG of every parse.
The schemas here name draft-07, whose metaschema is checked four to six times faster, and
use only keywords that mean the same in both drafts (type, properties, additionalProperties,
items, minimum, maximum, exclusiveMinimum), so a trigger is accepted or refused as before.
"""

from __future__ import annotations

import copy
from functools import cache
from types import NoneType, UnionType
from typing import Annotated, Any, Union, get_args, get_origin

import annotated_types
from airflow.sdk import Param
from pydantic import Strict
from pydantic.fields import FieldInfo

from agentjobs.agent.caps import Caps

DRAFT_07 = "http://json-schema.org/draft-07/schema#"


class _SharedSchema(dict[str, Any]):
    """A Param's schema that the Param's deep copies share instead of copying.

    Airflow deep-copies the DAG's Params into every operator, once per wrapped __init__ of the
    operator's class chain (once per task here: operators/base_init.py), and copying the schemas
    was a third of building the job DAGs. Nothing changes a schema once the DAG is built
    (Param.__copy__ shares it too); a copy of the Param still gets its own value. Serialized, it
    is a plain dict.
    """

    def __deepcopy__(self, memo: dict[int, Any]) -> _SharedSchema:
        return self


def param(default: Any, description: str, **schema: Any) -> Param:
    """A Param whose schema (`type=...` and the other keywords) is checked as draft-07."""
    return Param(default, description=description, schema=_SharedSchema({"$schema": DRAFT_07, **schema}))


# JSON Schema's name for each Python type a cap may have, and its keyword for each bound.
_JSON_TYPES: dict[type, str] = {bool: "boolean", int: "integer", float: "number", str: "string"}
_BOUNDS: dict[type, tuple[str, str]] = {
    annotated_types.Ge: ("ge", "minimum"),
    annotated_types.Gt: ("gt", "exclusiveMinimum"),
    annotated_types.Le: ("le", "maximum"),
    annotated_types.Lt: ("lt", "exclusiveMaximum"),
}


@cache
def caps_properties() -> dict[str, dict[str, Any]]:
    """Each cap's type and bounds, read off the Caps model's fields (the one place they are declared).

    The same schema pydantic writes for a cap (tests/operators/test_params.py compares them), in
    the lean form: an optional cap is `type: [type, "null"]` beside its bounds (bounds ignore a
    null), without the title and default, which say nothing the Param's own default does not.
    Read from the fields, not from `Caps.model_json_schema()`: pydantic's JSON Schema generator
    took ~2 ms of every DAG parse (it compiles its own patterns on first use). A cap of a type
    or constraint the walk does not know fails the parse loudly instead of being left unchecked.
    """
    return {name: _cap_schema(name, field) for name, field in Caps.model_fields.items()}


def _cap_schema(name: str, field: FieldInfo) -> dict[str, Any]:
    annotation, metadata = field.annotation, list(field.metadata)
    members = get_args(annotation) if get_origin(annotation) in (Union, UnionType) else (annotation,)
    values = [m for m in members if m is not NoneType]
    value_type = values[0] if len(values) == 1 else annotation  # `int | float` has no one JSON type here
    if get_origin(value_type) is Annotated:
        value_type, *more = get_args(value_type)
        metadata += more
    if value_type not in _JSON_TYPES:
        raise TypeError(f"Caps.{name}: operators/params.py has no JSON Schema type for {annotation!r}")
    schema: dict[str, Any] = {}
    for constraint in metadata:
        if isinstance(constraint, Strict):
            continue  # the Param's JSON types are already strict: "40" is not an integer
        if type(constraint) not in _BOUNDS:
            raise TypeError(f"Caps.{name}: operators/params.py cannot write {constraint!r} as JSON Schema")
        attribute, keyword = _BOUNDS[type(constraint)]
        schema[keyword] = getattr(constraint, attribute)
    json_type = _JSON_TYPES[value_type]
    schema["type"] = [json_type, "null"] if NoneType in members else json_type
    return dict(sorted(schema.items()))  # pydantic's key order: a DAG serialized as before


def caps_param(caps: Caps) -> Param:
    """The agent's caps as one Param: `caps` by default; a triggered run names the ones it
    changes (`{"caps": {"max_cost_usd": 0.5}}`), the others keep the spec's values. An unknown
    cap name or a value out of bounds refuses the trigger."""
    return param(
        caps.model_dump(),
        "The agent's caps for this run; name only those to change.",
        type="object",
        # A fresh copy per DAG: Airflow keeps the schema dict it is given.
        properties=copy.deepcopy(caps_properties()),
        additionalProperties=False,
    )
