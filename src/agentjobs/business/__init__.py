"""The sample business database: its tables, a deterministic generator with planted patterns
and their ground truth, and a copier into another database (PostgreSQL).

Nothing here imports Airflow: the generator runs from the CLI, the tests and the kinds' tests.
"""
