"""The agentjobs page of the Airflow UI: what every agent run did, what it cost, where it went.

A FastAPI app the api-server mounts (`plugin` registers it through the package's entry point).
It only reads what the runs recorded (task states and XComs in Airflow's metadata DB, each job's
delivery ledger and run log, the artifacts on disk) and never calls a model. Modules: `records`
(the rows, no Airflow), `queries` (reading them), `files` (a run's folder), `render` (HTML), `app`
(routes and auth), `plugin` (the AirflowPlugin).
"""
