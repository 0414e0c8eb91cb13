"""The documentation site builds in strict mode, offline: a broken link or anchor, a missing page
in the nav or a snippet whose file is gone fails the build, and nothing reaches the network."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

# mkdocs runs in a child process whose sockets refuse to connect and whose name lookups fail, so a
# theme or plugin that fetched anything (fonts, social cards, remote images) would fail the build.
_OFFLINE_MKDOCS = """
import socket, sys

def _refuse(*args, **kwargs):
    raise OSError("the docs build may not reach the network")

socket.socket.connect = _refuse
socket.socket.connect_ex = _refuse
socket.getaddrinfo = _refuse
socket.create_connection = _refuse
from mkdocs.__main__ import cli

sys.exit(cli())
"""


def _build(project: Path, site: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    command = [sys.executable, "-c", _OFFLINE_MKDOCS, "build", "--strict", "--site-dir", str(site)]
    return subprocess.run(command, cwd=project, env=env, capture_output=True, text=True, timeout=240)


def _copy_project(tmp_path: Path) -> Path:
    """What the build reads (mkdocs.yml, docs/, the sources mkdocstrings reads, bench/latest.md),
    copied so a test can break a page without touching the checkout."""
    project = tmp_path / "project"
    shutil.copytree(REPO / "docs", project / "docs")
    shutil.copy(REPO / "mkdocs.yml", project / "mkdocs.yml")
    (project / "bench").mkdir()
    shutil.copy(REPO / "bench" / "latest.md", project / "bench" / "latest.md")
    (project / "src").symlink_to(REPO / "src")
    return project


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    site = tmp_path_factory.mktemp("site")
    result = _build(REPO, site)
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{result.stderr[-4000:]}"
    return site


def test_the_site_builds_in_strict_mode_offline(site) -> None:
    pages = {p.relative_to(site).as_posix() for p in site.rglob("index.html")}
    for page in (
        "index.html",
        "getting-started/index.html",
        "reference/spec/index.html",
        "kinds/enrichment/index.html",
    ):
        assert page in pages


def test_the_reference_pages_are_rendered_from_the_code(site) -> None:
    spec = (site / "reference" / "spec" / "index.html").read_text(encoding="utf-8")
    assert "max_iterations" in spec and "fallback_conn_ids" in spec and "statement_timeout_s" in spec
    operators = (site / "reference" / "operators" / "index.html").read_text(encoding="utf-8")
    # mkdocstrings rendered the AgentOperator's docstring, its parameters included.
    assert "AgentOperator" in operators and "fallback_conn_ids" in operators and "Budget scope" in operators
    latest = (site / "bench-latest" / "index.html").read_text(encoding="utf-8")
    assert "tokens per digest" in latest, "bench/latest.md is included in its page"


def test_a_broken_link_fails_the_build(tmp_path) -> None:
    project = _copy_project(tmp_path)
    page = project / "docs" / "operations.md"
    page.write_text(page.read_text(encoding="utf-8") + "\nSee [the ledger](delivery.md#no-such-part).\n")
    result = _build(project, tmp_path / "site")
    assert result.returncode != 0
    assert "delivery.md#no-such-part" in result.stderr


def test_a_page_the_nav_names_but_that_is_gone_fails_the_build(tmp_path) -> None:
    project = _copy_project(tmp_path)
    (project / "docs" / "kinds" / "anomaly_flags.md").unlink()
    result = _build(project, tmp_path / "site")
    assert result.returncode != 0
    assert "kinds/anomaly_flags.md" in result.stderr


def test_a_page_not_yet_in_the_nav_builds(tmp_path) -> None:
    # A page another change adds (docs/taskflow.md ...) builds before mkdocs.yml's nav names it.
    project = _copy_project(tmp_path)
    page = "# The TaskFlow API\n\nSee [the operator](agent-operator.md).\n"
    (project / "docs" / "taskflow.md").write_text(page, encoding="utf-8")
    result = _build(project, tmp_path / "site")
    assert result.returncode == 0, result.stderr[-2000:]
    assert (tmp_path / "site" / "taskflow" / "index.html").is_file()
