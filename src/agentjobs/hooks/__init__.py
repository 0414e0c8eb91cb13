"""Airflow hooks: the LLM endpoint, the ledger database and GitHub connections."""

# The LLM connection an agent task uses unless its spec names another. Here, not only on
# LLMHook, so the operators can default to it without importing the hook (and the model
# client) each time the DAG processor parses the job DAGs.
DEFAULT_LLM_CONN_ID = "agentjobs_llm_default"
