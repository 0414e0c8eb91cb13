"""RunPlan: what a job asks, bound to a skill and a folder, becomes the run's instructions, system
prompt, result schema, URL policy and tools; an unbound plan says how to bind it."""

from __future__ import annotations

from pathlib import Path

import pydantic
import pytest

from agentjobs.agent.http_policy import HttpPolicy
from agentjobs.agent.plan import UNTRUSTED_DATA_NOTE, RunPlan
from agentjobs.agent.skills import Skill, load_skill
from agentjobs.agent.tools import Tool
from tests.agent.test_skills import write_skill

TWO_MODES = "# Triage\nCall the tools, then answer.\n\n## Structured mode\nJudge the items given.\n"
SCHEMA = "result_schema: {type: object, properties: {n: {type: integer}}, required: [n]}\n"


def skill(tmp_path: Path, body: str = TWO_MODES, extra: str = "") -> Skill:
    write_skill(tmp_path / "skills", "triage", f"name: triage\ndescription: Triage.\n{SCHEMA}{extra}", body)
    return load_skill("triage", tmp_path / "skills")


class _NoArgs(pydantic.BaseModel):
    pass


def own_tool(name: str) -> Tool:
    return Tool(name=name, description="The job's own tool.", func=lambda: "done", args_model=_NoArgs)


def test_an_unbound_plan_names_what_it_lacks_and_how_to_bind_it(tmp_path):
    plan = RunPlan(prompt="p")
    with pytest.raises(ValueError, match=r"no skill yet: bind one \(RunPlan\.bind\)"):
        plan.system_prompt()
    with pytest.raises(ValueError, match=r"no work folder yet: bind one \(RunPlan\.bind\)"):
        RunPlan(prompt="p", skill=skill(tmp_path)).registry()


def test_binding_leaves_the_plan_as_it_was_and_each_run_keeps_its_own_record(tmp_path):
    plan = RunPlan(prompt="p", data={"kept": 1})
    first = plan.bind(skill(tmp_path), tmp_path, max_repairs=0)
    second = plan.bind(first.bound_skill, tmp_path)
    assert plan.skill is None and plan.work_dir is None and plan.max_repairs == 1
    assert first.max_repairs == 0 and first.data == {"kept": 1} and first.folder == tmp_path
    first.tool_sequence.append("read_file")
    assert second.tool_sequence == [] and plan.tool_sequence == []


@pytest.mark.parametrize(
    ("mode", "shown", "hidden"),
    [
        (None, "Call the tools, then answer.", "Judge the items given."),  # the skill's own: loop
        ("structured", "Judge the items given.", "Call the tools"),
    ],
)
def test_each_mode_gets_only_its_part_of_the_skills_instructions(tmp_path, mode, shown, hidden):
    plan = RunPlan(prompt="p", mode=mode).bind(skill(tmp_path), tmp_path)
    assert shown in plan.instructions() and hidden not in plan.instructions()
    assert "## Structured mode" not in plan.system_prompt()


def test_a_skill_without_a_structured_section_gives_its_whole_body_in_either_mode(tmp_path):
    body = "# Triage\nOne way of working.\n"
    for mode in ("loop", "structured"):
        plan = RunPlan(prompt="p", mode=mode).bind(skill(tmp_path / mode, body), tmp_path)
        assert plan.instructions() == body.strip()


def test_the_system_prompt_warns_about_data_and_asks_for_the_answer_the_mode_needs(tmp_path):
    loop = RunPlan(prompt="p").bind(skill(tmp_path), tmp_path).system_prompt()
    structured = RunPlan(prompt="p", mode="structured").bind(skill(tmp_path), tmp_path).system_prompt()
    assert UNTRUSTED_DATA_NOTE in loop and UNTRUSTED_DATA_NOTE in structured
    # Loop mode ends with a RESULT line in the skill's schema; structured mode is one JSON object.
    assert "RESULT" in loop and '"required":["n"]' in loop
    assert structured.endswith("Reply with only one JSON object that matches the given JSON schema.")
    assert "RESULT" not in structured


def test_a_schema_made_for_the_run_replaces_the_skills(tmp_path):
    own = {"type": "object", "properties": {"ids": {"enum": ["a", "b"]}}, "required": ["ids"]}
    bound = RunPlan(prompt="p", result_schema=own).bind(skill(tmp_path), tmp_path)
    assert bound.schema() == own and '"enum":["a","b"]' in bound.system_prompt()
    assert bound.result_model().model_validate({"ids": "a"})
    with pytest.raises(pydantic.ValidationError):
        bound.result_model().model_validate({"ids": "c"})
    skills_own = RunPlan(prompt="p").bind(skill(tmp_path), tmp_path)
    assert skills_own.result_model().model_validate({"n": 3})
    with pytest.raises(pydantic.ValidationError):
        skills_own.result_model().model_validate({"ids": "a"})


def test_the_skills_url_prefixes_join_the_jobs_once_each_in_order(tmp_path):
    extra = "allow_urls: [https://b.example.com/v1/, https://a.example.com/]\n"
    job = HttpPolicy.of(["https://a.example.com/", "https://c.example.com/"], max_bytes=500)
    plan = RunPlan(prompt="p", http_policy=job).bind(skill(tmp_path, extra=extra), tmp_path)
    merged = plan.policy()
    assert merged is not None and merged.max_bytes == 500
    # Prefixes are kept in canonical form (explicit port), so the same one spelled twice is one.
    assert merged.allow_urls == (
        "https://a.example.com:443/",
        "https://c.example.com:443/",
        "https://b.example.com:443/v1/",
    )
    # Without prefixes of its own the skill leaves the job's policy, or its absence, as it is.
    assert RunPlan(prompt="p", http_policy=job).bind(skill(tmp_path / "plain"), tmp_path).policy() is job
    assert RunPlan(prompt="p").bind(skill(tmp_path / "none"), tmp_path).policy() is None


def test_the_tools_are_the_builtins_and_the_jobs_narrowed_by_the_skill_and_the_runner(tmp_path):
    everything = RunPlan(prompt="p", tools=[own_tool("stage")]).bind(skill(tmp_path), tmp_path)
    assert everything.registry().names() == ["read_file", "list_files", "write_file", "http_get", "stage"]
    narrowed_skill = skill(tmp_path / "narrow", extra="allowed_tools: [read_file, stage, http_get]\n")
    by_skill = RunPlan(prompt="p", tools=[own_tool("stage")]).bind(narrowed_skill, tmp_path)
    assert by_skill.registry().names() == ["read_file", "http_get", "stage"]
    # The runner can narrow further but never widen past the skill's list.
    by_both = RunPlan(prompt="p", tools=[own_tool("stage")]).bind(
        narrowed_skill, tmp_path, tool_names=["stage", "write_file"]
    )
    assert by_both.registry().names() == ["stage"]


class _Pair:
    """A toolset handing out tools of the given names."""

    def __init__(self, *names: str) -> None:
        self.names = names

    def tools(self) -> list[Tool]:
        return [own_tool(name) for name in self.names]

    def close(self) -> None:
        pass


def test_the_tasks_own_tools_and_toolsets_are_offered_whatever_the_skill_or_runner_allow(tmp_path):
    narrowed_skill = skill(tmp_path, extra="allowed_tools: [read_file]\n")
    plan = RunPlan(prompt="p", given_tools=[own_tool("price")]).bind(
        narrowed_skill, tmp_path, tool_names=["read_file"]
    )
    pair = _Pair("stock", "orders")
    # The skill's list and the runner's names narrow the built-ins; the task's own are its author's.
    assert plan.registry([(pair, pair.tools())]).names() == ["read_file", "price", "stock", "orders"]


@pytest.mark.parametrize(
    ("given", "toolset", "named"),
    [
        ([], ("read_file",), "'read_file': the built-in tool and a tool of the toolset _Pair"),
        ([own_tool("price")], ("price",), "'price': the task's tool 'price'"),
        ([], ("rows", "rows"), "'rows': a tool of the toolset _Pair and a tool of the toolset _Pair"),
    ],
)
def test_two_tools_of_one_name_are_refused_naming_where_each_came_from(tmp_path, given, toolset, named):
    from agentjobs.agent.errors import ToolRegistrationError

    pair = _Pair(*toolset)
    plan = RunPlan(prompt="p", given_tools=given).bind(skill(tmp_path), tmp_path)
    with pytest.raises(
        ToolRegistrationError, match="two tools are named " + named.replace("(", r"\(")
    ) as err:
        plan.registry([(pair, pair.tools())])
    assert "rename one" in str(err.value)


def test_an_output_type_replaces_the_skills_contract(tmp_path):
    class Verdict(pydantic.BaseModel):
        action: str
        open_eur: float

    plan = RunPlan(prompt="p", output_type=Verdict).bind(skill(tmp_path), tmp_path)
    assert plan.result_model() is Verdict and plan.contract_model() is Verdict
    assert set(plan.schema()["properties"]) == {"action", "open_eur"}
    # The model is told the output type's shape, not the skill's.
    assert '"open_eur": <number>' in plan.system_prompt() and '"n"' not in plan.system_prompt()
