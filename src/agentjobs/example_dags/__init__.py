"""Example DAGs shipped with the provider, each run by the test suite with ``dag.test()``.

Point a DAG processor at this folder (or copy a file into your dags folder) to try them: they
ask the ``agentjobs_llm_default`` connection.
"""
