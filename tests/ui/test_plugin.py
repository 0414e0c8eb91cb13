"""The UI page's plugin: what the api-server mounts, and that installing the package registers it."""

from __future__ import annotations

import tomllib
from importlib.metadata import entry_points

from agentjobs.ui.lazy import LazyApp
from agentjobs.ui.plugin import PLUGIN_NAME, URL_PREFIX, AgentJobsUiPlugin
from tests.conftest import REPO


def test_the_package_declares_the_page_as_an_airflow_plugin_entry_point():
    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["entry-points"]
    assert declared["airflow.plugins"] == {PLUGIN_NAME: "agentjobs.ui.plugin:AgentJobsUiPlugin"}
    # The plugins folder holds no second registration (Airflow would refuse the page twice).
    assert not [p for p in (REPO / "plugins").rglob("*.py") if "AgentJobsUiPlugin" in p.read_text()]


def test_the_installed_entry_point_loads_the_plugin_airflow_lists():
    (point,) = [p for p in entry_points(group="airflow.plugins") if p.name == PLUGIN_NAME]
    assert point.load() is AgentJobsUiPlugin


def test_the_app_is_mounted_lazily_at_agentjobs_with_a_browse_entry():
    (app,) = AgentJobsUiPlugin.fastapi_apps
    assert app["url_prefix"] == URL_PREFIX == "/agentjobs"
    assert isinstance(app["app"], LazyApp)  # task runners load plugins too: no app import there
    (view,) = AgentJobsUiPlugin.external_views
    assert (view["href"], view["category"], view["destination"]) == ("/agentjobs/", "browse", "nav")
