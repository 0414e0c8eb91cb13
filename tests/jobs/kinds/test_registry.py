"""Kinds by name: shipped or from another package's entry point; a kind that does not load or
validate breaks only the specs that name it; a kind's optional steps are declared capabilities."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentjobs.jobs.spec import JobSpecError, load_folder, load_spec

REPO = Path(__file__).resolve().parents[3]
SHIPPED_SPECS = ("daily-digest.yaml", "weekly-insights.yaml")
TALLY = """\
dag_id: team_tally
kind: team_tally
title: Team tally
start_date: 2026-11-01
skill: team-tally
sources:
  sql: {conn_id: agentjobs_business}
team_tally:
  local_hour: 7
"""


def folder_with(tmp_path: Path, **specs: str) -> Path:
    jobs = tmp_path / "jobs"
    jobs.mkdir()
    for name in SHIPPED_SPECS:
        (jobs / name).write_text((REPO / "include" / "jobs" / name).read_text())
    for name, text in specs.items():
        (jobs / f"{name}.yaml").write_text(text)
    return jobs


def test_a_kind_from_another_package_loads_with_its_own_section(installed_kinds, tmp_path):
    from agentjobs_tally import TallySettings

    spec = load_spec(folder_with(tmp_path, tally=TALLY) / "tally.yaml")
    assert spec.fans_out and spec.schedule == "0 * * * *"  # the kind's own default
    assert spec.kind_settings() == TallySettings(local_hour=7)
    # The section goes back under the kind's name: a dumped spec loads again as it was.
    assert spec.model_dump()["team_tally"] == {"local_hour": 7}
    assert type(spec).model_validate(spec.model_dump()).kind_settings().local_hour == 7


def test_a_mistake_in_a_third_party_section_breaks_that_spec_alone(installed_kinds, tmp_path):
    jobs = folder_with(tmp_path, tally=TALLY.replace("local_hour: 7", "local_hour: 25"))
    loaded, broken = load_folder(jobs)
    assert sorted(p.name for p in loaded) == sorted(SHIPPED_SPECS)
    (only,) = broken
    assert only.dag_id == "team_tally" and "field 'team_tally.local_hour'" in only.error
    assert "\n" not in only.error


def test_a_kind_that_does_not_import_breaks_only_the_specs_that_name_it(installed_kinds, tmp_path):
    broken_spec = TALLY.replace("team_tally", "broken_kind").replace("  local_hour: 7\n", "")
    jobs = folder_with(tmp_path, tally=TALLY, broken=broken_spec)
    loaded, broken = load_folder(jobs)
    assert sorted(p.name for p in loaded) == sorted([*SHIPPED_SPECS, "tally.yaml"])
    (only,) = broken
    assert only.path.name == "broken.yaml" and "\n" not in only.error
    assert "field 'kind': kind 'broken_kind' did not load from entry point" in only.error
    assert "agentjobs-broken-kind" in only.error and "ModuleNotFoundError" in only.error


def test_an_entry_point_that_is_not_a_kind_is_refused_by_name(installed_kinds, tmp_path):
    jobs = folder_with(
        tmp_path, odd=TALLY.replace("team_tally", "not_a_kind").replace("  local_hour: 7\n", "")
    )
    loaded, broken = load_folder(jobs)
    assert len(loaded) == len(SHIPPED_SPECS)
    (only,) = broken
    assert "kind 'not_a_kind'" in only.error and "is not a kind: it lacks name" in only.error


def test_an_unknown_kind_names_the_installed_ones_too(installed_kinds, tmp_path):
    with pytest.raises(JobSpecError) as raised:
        load_spec(folder_with(tmp_path, x=TALLY.replace("kind: team_tally", "kind: team_tallly")) / "x.yaml")
    assert "unknown job kind 'team_tallly'; use one of digest, weekly_insights" in str(raised.value)
    assert "team_tally" in str(raised.value).split("use one of", 1)[1]


def test_a_section_of_an_installed_kind_in_another_kinds_spec_names_the_fix(installed_kinds, tmp_path):
    insights = (REPO / "include" / "jobs" / "weekly-insights.yaml").read_text()
    path = folder_with(tmp_path, x=insights + "team_tally: {local_hour: 7}\n") / "x.yaml"
    with pytest.raises(JobSpecError, match="field 'team_tally': a section for kind 'team_tally'"):
        load_spec(path)


def test_without_the_package_its_kind_is_unknown_and_the_shipped_ones_still_load(tmp_path):
    loaded, broken = load_folder(folder_with(tmp_path, tally=TALLY))
    assert len(loaded) == len(SHIPPED_SPECS)
    assert "unknown job kind 'team_tally'" in broken[0].error


def test_the_digest_has_no_section_of_its_own(tmp_path):
    digest = (REPO / "include" / "jobs" / "daily-digest.yaml").read_text()
    with pytest.raises(JobSpecError, match="field 'digest': kind 'digest' has no section of its own"):
        load_spec(folder_with(tmp_path, x=digest + "digest: {a: 1}\n") / "x.yaml")


@pytest.mark.parametrize(
    ("name", "declared"),
    [
        ("digest", {"OwnTaskGraph", "ChecksSpec"}),
        ("weekly_insights", {"MembersOnOwnClock", "Records"}),
        ("anomaly_flags", set()),
        ("overdue_reminders", {"PerMember"}),
        ("enrichment", {"Applies"}),
        ("reconciliation", {"Applies", "Reviewed"}),
        ("compliance_report", {"Documents"}),
        ("batch_notifications", {"Claims", "ReportsIgnored", "PicksServingInstant", "MembersOnOwnClock"}),
        ("invoice_reconciliation", {"Applies", "ChecksSpec", "Reviewed"}),
    ],
)
def test_each_shipped_kind_declares_the_optional_steps_its_graph_runs(name, declared):
    from agentjobs.jobs.kinds import capabilities
    from agentjobs.jobs.kinds.registry import kind

    found = kind(name)
    assert {c for c in capabilities.__all__ if isinstance(found, getattr(capabilities, c))} == declared


@pytest.mark.parametrize("name", ["digest", "reconciliation", "batch_notifications"])
def test_a_kinds_capabilities_asked_again_give_the_same_answers(name):
    # The registry remembers each answer (a parse asks several times per job); asked twice, and
    # for two different kinds, each keeps its own.
    from agentjobs.jobs.kinds import capabilities
    from agentjobs.jobs.kinds.registry import declares, kind

    found, other = kind(name), kind("anomaly_flags")
    for _ in range(2):
        for name_ in capabilities.__all__:
            capability = getattr(capabilities, name_)
            assert declares(found, capability) == isinstance(found, capability)
            assert declares(other, capability) is False


def _runtime_protocols() -> list[type]:
    from agentjobs.agent import toolset
    from agentjobs.jobs.kinds import base, capabilities
    from agentjobs.operators import graph

    return [
        value
        for module in (base, capabilities, graph, toolset)
        for value in vars(module).values()
        if isinstance(value, type) and getattr(value, "_is_runtime_protocol", False)
    ]


def test_declares_reads_every_protocol_as_isinstance_does():
    # declares() reads a protocol's members once instead of on every isinstance (a DAG parse asks
    # dozens of times); it must answer as isinstance does, for kinds, graphs and odd objects alike.
    import types

    from agentjobs.jobs.kinds.registry import SHIPPED, declares, kind
    from agentjobs.operators.fan_out_graph import GRAPH

    reconciliation = kind("reconciliation")
    public = {name: getattr(reconciliation, name) for name in dir(reconciliation) if name[0] != "_"}
    no_apply = types.SimpleNamespace(**public)
    no_apply.apply = None  # a method set to None is switched off, as isinstance reads it
    half = types.SimpleNamespace(name="x", settings_model=None)  # a data member may be None
    candidates = [kind(name) for name in SHIPPED] + [GRAPH, no_apply, half, object(), types.ModuleType("m")]
    protocols = _runtime_protocols()
    assert len(protocols) >= 15  # the walk found agentjobs' protocols, not an empty list
    checked = {(id(c), p): declares(c, p) == isinstance(c, p) for c in candidates for p in protocols}
    assert all(checked.values()), [p.__qualname__ for (i, p), same in checked.items() if not same]
    assert any(declares(c, p) for c in candidates for p in protocols)  # not all False either


def test_declares_refuses_a_protocol_isinstance_would_refuse():
    from typing import Protocol

    from agentjobs.jobs.kinds.registry import declares

    class NotCheckable(Protocol):
        def run(self) -> None: ...

    with pytest.raises(TypeError, match="NotCheckable is not a runtime-checkable protocol"):
        declares(object(), NotCheckable)
