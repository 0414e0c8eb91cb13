"""The agentjobs page in the Airflow UI: point Airflow's plugins folder here (or copy this file).

`[core] plugins_folder` (AIRFLOW__CORE__PLUGINS_FOLDER) naming this folder makes the api-server
mount the app at /agentjobs and put "Agent runs" in the navigation (Browse). This file is the
only registration: the package declares no `airflow.plugins` entry point, since a plugin found
both ways is refused the second time as "already registered".
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from agentjobs.ui.lazy import LazyApp

URL_PREFIX = "/agentjobs"


class AgentJobsUiPlugin(AirflowPlugin):
    name = "agentjobs_ui"
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
