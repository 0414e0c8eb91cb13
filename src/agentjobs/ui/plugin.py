"""The agentjobs page in the Airflow UI, registered by installing the package.

The package's `airflow.plugins` entry point names this class, so every Airflow process that loads
plugins finds it without a plugins folder: the api-server mounts the app at /agentjobs and puts
"Agent runs" in the navigation (Browse). A copy of the old `plugins/agentjobs_ui.py` left in a
plugins folder would register it a second time, which Airflow refuses ("already registered"):
`agentjobs init` names such a copy.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from agentjobs.ui.lazy import LazyApp

PLUGIN_NAME = "agentjobs_ui"
URL_PREFIX = "/agentjobs"


class AgentJobsUiPlugin(AirflowPlugin):
    name = PLUGIN_NAME
    # Every Airflow process loads plugins (task runners too, for macros): the app, and the
    # api-server modules it needs, are imported by the api-server's first request only.
    fastapi_apps = [  # noqa: RUF012
        {"app": LazyApp("agentjobs.ui.app:app"), "url_prefix": URL_PREFIX, "name": "agentjobs runs"}
    ]
    # With a url_route the UI shows the page inside its own frame, at /plugin/agentjobs-runs.
    external_views = [  # noqa: RUF012
        {
            "name": "Agent runs",
            "href": f"{URL_PREFIX}/",
            "destination": "nav",
            "category": "browse",
            "url_route": "agentjobs-runs",
        }
    ]
