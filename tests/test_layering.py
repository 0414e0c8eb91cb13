"""The rooms of src/agentjobs and the one direction imports go between them.

Every module's imports are read with `ast`, including imports inside functions (they run at
task time all the same) and under TYPE_CHECKING (the arrow exists for a reader either way).
A room may import from itself and from rooms in a lower tier, never from a higher tier nor
from another room of its own tier; and no module reaches itself through a chain of imports.
The allowlists below name what is known and not fixed yet; they may only shrink: an entry
that no longer happens fails too, so fixing a violation means deleting its line here.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = "agentjobs"

# Lowest first. The tiers follow what the code imports: hooks sit below delivery because the
# ledger takes its engine from LedgerHook, and hooks import nothing but the agent runtime.
TIERS: tuple[tuple[str, ...], ...] = (
    ("base",),  # agentjobs/__init__ (the version), atomic_file, shipped: leaves anyone may use
    ("agent",),  # the agent runtime, no Airflow
    ("business",),  # the sample business schema and generator
    ("sources",),  # fetch one data interval into a snapshot
    ("jobs",),  # the job domain, no Airflow: specs, periods, run files, kinds
    ("hooks",),  # connections
    ("toolsets",),  # what a DAG author hands an agent: read-only SQL, an MCP server's tools
    ("delivery",),  # the ledger and the channels
    ("notifications",),  # alerts
    ("operators",),  # Airflow assembly: the DAG factory and the operators
    ("decorators",),  # TaskFlow: @task.agentjobs over AgentOperator
    ("deploy",),  # what the CLI and the Compose file drive: dag.test(), pools, llama-server, init
    ("ui", "cli"),  # the two front doors: neither imports the other
    ("entry", "example_dags"),  # dags/, plugins/ and the shipped example DAGs: files Airflow loads
)
RANK = {room: tier for tier, rooms in enumerate(TIERS) for room in rooms}
# Lower rooms a room still may not use: the UI page reads through the domain (jobs/, delivery/),
# never the Airflow assembly, so what it shows does not depend on how a DAG is built.
NOT_THROUGH = {"ui": frozenset({"operators", "deploy"})}

# Top-level modules of the package and their room (a new one must be placed here).
TOP_LEVEL = {
    PACKAGE: "base",
    f"{PACKAGE}.airflow_config": "base",
    f"{PACKAGE}.airflow_config_reference": "base",
    f"{PACKAGE}.atomic_file": "base",
    f"{PACKAGE}.lazy_pattern": "base",
    f"{PACKAGE}.lazy_names": "base",
    f"{PACKAGE}.shipped": "base",
    f"{PACKAGE}.sql_tables": "base",
    f"{PACKAGE}.dag_test": "deploy",
    f"{PACKAGE}.pools": "deploy",
    f"{PACKAGE}.local_model": "deploy",
    f"{PACKAGE}.compose_init": "deploy",
}

# (importing module, imported module) arrows that point the wrong way, not fixed yet.
KNOWN_WRONG_WAY: frozenset[tuple[str, str]] = frozenset()
# Import cycles not broken yet, each as the set of modules on it.
KNOWN_CYCLES: frozenset[frozenset[str]] = frozenset()


@dataclass(frozen=True)
class Arrow:
    path: str  # relative to the repository, for the failure message
    line: int
    source: str  # importing module
    target: str  # imported module (the longest module name the import names)

    def __str__(self) -> str:
        return f"{self.path}:{self.line} {self.source} -> {self.target}"


def module_of(path: Path, src: Path) -> str:
    parts = list(path.relative_to(src).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def room_of(module: str) -> str:
    if module in TOP_LEVEL:
        return TOP_LEVEL[module]
    parts = module.split(".")
    if parts[0] != PACKAGE:
        return "entry"
    if len(parts) == 1 or parts[1] not in RANK:
        raise AssertionError(f"{module} is in no room: place it in TOP_LEVEL or TIERS of {__file__}")
    return parts[1]


def _imported(node: ast.AST, module: str, is_package: bool, known: set[str]) -> Iterator[str]:
    """The modules of the package an import statement names."""
    if isinstance(node, ast.Import):
        bases = [alias.name for alias in node.names]
        names: list[str] = []
    elif isinstance(node, ast.ImportFrom):
        if node.level:  # relative: from the module's own package upward
            package = module.split(".") if is_package else module.split(".")[:-1]
            package = package[: len(package) - node.level + 1]
            bases = [".".join(package + ([node.module] if node.module else []))]
        else:
            bases = [node.module or ""]
        names = [alias.name for alias in node.names]
    else:
        return
    for base in bases:
        if base.split(".")[0] != PACKAGE:
            continue
        # `from agentjobs import delivery` imports the submodule; `from x import Name` the module x.
        submodules = [f"{base}.{name}" for name in names if f"{base}.{name}" in known]
        yield from submodules or [base]


def arrows(files: Iterable[tuple[Path, str]], repo: Path) -> list[Arrow]:
    """Every import of a package module by `files` ((path, module name) pairs)."""
    files = list(files)
    known = {module for _, module in files}
    found = []
    for path, module in files:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            for target in _imported(node, module, path.name == "__init__.py", known):
                if target != module:
                    found.append(Arrow(str(path.relative_to(repo)), node.lineno, module, target))
    return found


def wrong_way(found: Iterable[Arrow]) -> list[Arrow]:
    bad = []
    for arrow in found:
        source, target = room_of(arrow.source), room_of(arrow.target)
        if source != target and (RANK[target] >= RANK[source] or target in NOT_THROUGH.get(source, ())):
            bad.append(arrow)
    return bad


def cycles(found: Iterable[Arrow]) -> list[frozenset[str]]:
    """The strongly connected components of more than one module (Tarjan, iteratively)."""
    graph: dict[str, set[str]] = {}
    for arrow in found:
        graph.setdefault(arrow.source, set()).add(arrow.target)
        graph.setdefault(arrow.target, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.add(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        components.append(frozenset(component))
            elif child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph[child]))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return components


def project_files(repo: Path) -> list[tuple[Path, str]]:
    src = repo / "src"
    files = [(path, module_of(path, src)) for path in sorted((src / PACKAGE).rglob("*.py"))]
    for folder in ("dags", "plugins"):
        files += [(path, f"{folder}.{path.stem}") for path in sorted((repo / folder).glob("*.py"))]
    return files


@pytest.fixture(scope="module")
def project_arrows() -> list[Arrow]:
    return arrows(project_files(REPO), REPO)


def test_every_module_is_in_a_room(project_arrows):
    modules = {module for _, module in project_files(REPO)}
    assert len(modules) > 100, "the walk found the package"
    for module in modules:
        assert room_of(module) in RANK


def test_no_import_points_up_or_across_the_rooms(project_arrows):
    bad = wrong_way(project_arrows)
    new = [
        f"{arrow} ({room_of(arrow.source)}/ may not import {room_of(arrow.target)}/)"
        for arrow in bad
        if (arrow.source, arrow.target) not in KNOWN_WRONG_WAY
    ]
    assert new == [], "imports against the rooms' direction (see TIERS):\n" + "\n".join(new)
    fixed = KNOWN_WRONG_WAY - {(arrow.source, arrow.target) for arrow in bad}
    assert not fixed, f"fixed, so delete from KNOWN_WRONG_WAY: {sorted(fixed)}"


def test_no_module_imports_itself_through_a_cycle(project_arrows):
    found = cycles(project_arrows)
    new = []
    for component in found:
        if component in KNOWN_CYCLES:
            continue
        lines = [str(a) for a in project_arrows if a.source in component and a.target in component]
        new.append(" | ".join(sorted(lines)))
    assert new == [], "import cycles:\n" + "\n".join(new)
    fixed = KNOWN_CYCLES - set(found)
    assert not fixed, f"broken, so delete from KNOWN_CYCLES: {[sorted(c) for c in fixed]}"


def test_the_check_sees_imports_inside_functions_and_cycles(tmp_path):
    # A tiny package with one upward import inside a function and one cycle: both are caught.
    root = tmp_path / "src" / PACKAGE
    for folder in ("agent", "jobs"):
        (root / folder).mkdir(parents=True)
        (root / folder / "__init__.py").write_text("")
    (root / "__init__.py").write_text("")
    (root / "agent" / "loop.py").write_text(
        "def run() -> None:\n    from agentjobs.jobs.spec import load\n    from . import tools\n"
    )
    (root / "agent" / "tools.py").write_text("from agentjobs.agent import loop\n")
    (root / "jobs" / "spec.py").write_text("from agentjobs.agent.errors import E  # down: allowed\n")
    src = tmp_path / "src"
    found = arrows(((path, module_of(path, src)) for path in sorted(root.rglob("*.py"))), tmp_path)

    assert [str(a) for a in wrong_way(found)] == [
        "src/agentjobs/agent/loop.py:2 agentjobs.agent.loop -> agentjobs.jobs.spec"
    ]
    assert cycles(found) == [frozenset({"agentjobs.agent.loop", "agentjobs.agent.tools"})]
