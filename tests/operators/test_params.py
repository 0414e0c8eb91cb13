"""The job DAGs' Params: lean draft-07 schemas (cheap to parse) that refuse the same triggers."""

from __future__ import annotations

import json
from functools import cache

import jsonschema
import pytest
from pydantic import Field
from pydantic.fields import FieldInfo

from agentjobs.agent.caps import Caps
from agentjobs.operators.params import caps_param

# Values a person might type into a trigger's `caps`: inside, on and past each bound, wrong types.
CANDIDATES = [
    None,
    0,
    1,
    -1,
    0.5,
    1.5,
    40,
    1000,
    1001,
    86_400,
    86_401,
    10_000_000,
    10_000_001,
    "x",
    "40",
    True,
    [],
]


def accepted_by_the_models_schema(caps: dict[str, object]) -> bool:
    """What the caps Param accepted when its schema was the one pydantic writes (2020-12)."""
    schema = {
        "type": "object",
        "properties": Caps.model_json_schema()["properties"],
        "additionalProperties": False,
    }
    try:
        jsonschema.validate(caps, schema)
    except jsonschema.ValidationError:
        return False
    return True


def accepted_by_the_param(caps: dict[str, object]) -> bool:
    try:
        caps_param(Caps()).resolve(caps)
    except ValueError:
        return False
    return True


@pytest.mark.parametrize("name", sorted(Caps.model_fields))
def test_the_caps_param_accepts_exactly_what_the_caps_models_schema_accepts(name: str) -> None:
    verdicts = {repr(v): accepted_by_the_param({name: v}) for v in CANDIDATES}
    assert verdicts == {repr(v): accepted_by_the_models_schema({name: v}) for v in CANDIDATES}
    # Not a vacuous match: every cap takes some value and refuses another.
    assert True in verdicts.values() and False in verdicts.values()


def test_the_caps_param_refuses_a_cap_it_does_not_know() -> None:
    assert not accepted_by_the_param({"max_iteration": 3})
    assert accepted_by_the_param({"max_iterations": 3, "max_cost_usd": None})


@cache
def stored(dag_id: str):
    """The shipped job's DAG as the scheduler and API server hold it: serialized to JSON and back."""
    from airflow.serialization.serialized_objects import DagSerialization

    from agentjobs.operators.factory import dags_from_folder, jobs_folder
    from tests.conftest import REPO

    data = DagSerialization.to_dict(
        dags_from_folder(jobs_folder(REPO / "dags" / "agentjobs_jobs.py"))[dag_id]
    )
    DagSerialization.validate_schema(data)
    return DagSerialization.from_dict(json.loads(json.dumps(data)))


@pytest.mark.parametrize(
    ("dag_id", "conf", "accepted"),
    [
        ("daily_digest", {"caps": {"max_cost_usd": 1.5}, "force_redeliver": True}, True),
        ("daily_digest", {"caps": {"max_iterations": 0}}, False),
        ("daily_digest", {"caps": {"max_iteration": 3}}, False),
        ("daily_digest", {"refetch": "yes"}, False),
        ("weekly_insights", {"teams": ["t1"]}, True),
        ("weekly_insights", {"teams": [1]}, False),
    ],
)
def test_a_stored_job_dag_validates_a_triggers_conf(
    dag_id: str, conf: dict[str, object], accepted: bool
) -> None:
    from airflow.exceptions import ParamValidationError

    params = stored(dag_id).params.deep_merge(conf)
    if accepted:
        validated = params.validate()
        assert {k: validated[k] for k in conf} == conf
    else:
        with pytest.raises(ParamValidationError):
            params.validate()


def test_each_task_gets_its_own_copy_of_a_params_value() -> None:
    """The schemas are shared between the DAG's Params and the tasks' copies; the values are not."""
    from airflow.sdk import DAG
    from airflow.sdk.bases.operator import BaseOperator

    with DAG("copies", schedule=None, params={"caps": caps_param(Caps())}) as dag:
        task = BaseOperator(task_id="t")
    task.params["caps"]["max_iterations"] = 7
    assert dag.params["caps"]["max_iterations"] == 40
    assert task.params.get_param("caps").resolve({"max_iterations": 7}) == {"max_iterations": 7}
    with pytest.raises(ValueError):
        task.params.get_param("caps").resolve({"max_iterations": 0})


@pytest.mark.parametrize(
    "field",
    [
        pytest.param(lambda: FieldInfo.from_annotation(list[int]), id="a type it has no name for"),
        pytest.param(lambda: FieldInfo.from_annotation(int | float | None), id="a choice of types"),
        pytest.param(
            lambda: FieldInfo.from_annotated_attribute(int, Field(3, multiple_of=2)),
            id="a constraint it cannot write",
        ),
    ],
)
def test_a_cap_the_params_schema_cannot_express_fails_the_parse_loudly(field) -> None:
    """A contributor's new cap is never left unchecked in the trigger form: the DAG file fails."""
    from agentjobs.operators.params import _cap_schema

    with pytest.raises(TypeError, match=r"Caps\.new_cap: operators/params\.py"):
        _cap_schema("new_cap", field())
