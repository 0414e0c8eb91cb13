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
from typing import Any

from airflow.sdk import Param

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


@cache
def caps_properties() -> dict[str, dict[str, Any]]:
    """Each cap's type and bounds, from the Caps model (the one place they are declared).

    pydantic writes an optional cap as `anyOf: [{type, bounds}, {type: null}]` with a title and
    its default; the same check is `type: [type, "null"]` beside the bounds (bounds ignore a
    null), and the title and default say nothing the Param's own default does not. Cached:
    pydantic takes ~3 ms to build the schema, and every job's DAG uses it.
    """
    properties: dict[str, dict[str, Any]] = {}
    for name, schema in Caps.model_json_schema()["properties"].items():
        lean = {k: v for k, v in schema.items() if k not in ("title", "default", "anyOf")}
        if "anyOf" in schema:
            (bounded,) = [s for s in schema["anyOf"] if s != {"type": "null"}]
            lean = {**bounded, **lean, "type": [bounded["type"], "null"]}
        properties[name] = lean
    return properties


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
