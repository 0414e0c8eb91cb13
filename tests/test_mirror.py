"""tests/ mirrors src/: every source module with logic has its own test module, where a
newcomer looks for it (`src/agentjobs/jobs/spec.py` -> `tests/jobs/test_spec.py`, or several
`tests/jobs/test_spec_<aspect>.py`). Whole-DAG runs live in tests/scenarios/, real processes
in tests/scheduler/. A module without logic of its own is named below with the reason."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SRC = REPO / "src" / "agentjobs"

# Modules with nothing of their own to test: each line says why.
WITHOUT_LOGIC: dict[str, str] = {
    "agent/errors": "exception declarations (messages asserted where raised: test_loop.py)",
    "agent/skill_names": "two constants the skill loader re-exports (used by test_skills.py)",
    "business/categories": "constants of the sample generator",
    "business/ledgerly/profiles": "the generator's cast as plain data (test_generate.py, test_edges.py)",
    "business/ledgerly/schema": "SQLAlchemy table declarations (used by test_load.py, test_truth_sql.py)",
    "business/schema": "SQLAlchemy table declarations (used by test_generate.py, test_sql.py)",
    "cli/__main__": "calls cli.main() under `if __name__ == '__main__'`",
    "jobs/kinds/capabilities": "runtime_checkable Protocol declarations",
    "jobs/kinds/reconcile_links": "the reconciliation's write target, declared (test_reconcile_write.py)",
    "operators/errors": "exception declarations",
    "sources/errors": "exception declarations",
    "sources/sql_limits": "the two read limits' defaults and dataclass (test_read_only_limits.py)",
}


def _modules() -> list[str]:
    return sorted(
        str(path.relative_to(SRC).with_suffix(""))
        for path in SRC.rglob("*.py")
        if path.name != "__init__.py" and "__pycache__" not in path.parts
    )


def _has_mirror(module: str) -> bool:
    folder = REPO / "tests" / Path(module).parent
    name = Path(module).name
    return (folder / f"test_{name}.py").is_file() or any(folder.glob(f"test_{name}_*.py"))


def test_every_module_with_logic_has_its_test_module() -> None:
    missing = [m for m in _modules() if m not in WITHOUT_LOGIC and not _has_mirror(m)]
    assert not missing, (
        "source modules without a mirror test module (add tests/<path>/test_<module>.py, or name the "
        f"module in WITHOUT_LOGIC with the reason it has nothing to test): {missing}"
    )


def test_the_exemptions_are_still_true() -> None:
    # An exemption outlives its reason silently otherwise: a module that is gone, or that got a test.
    modules = set(_modules())
    stale = [m for m in WITHOUT_LOGIC if m not in modules or _has_mirror(m)]
    assert not stale, f"WITHOUT_LOGIC names modules that are gone or now have a test module: {stale}"


def test_scenarios_have_a_folder_of_their_own() -> None:
    scenarios = sorted(p.name for p in (REPO / "tests" / "scenarios").glob("test_*.py"))
    assert len(scenarios) >= 10, scenarios
    stray = sorted(str(p.relative_to(REPO)) for p in (REPO / "tests").rglob("test_*_dag.py"))
    assert not stray, f"whole-DAG tests outside tests/scenarios/: {stray}"
