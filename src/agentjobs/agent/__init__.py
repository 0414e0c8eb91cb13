"""The agent runtime: a tool loop under hard caps. Imports nothing from Airflow."""

# The variable naming the skills folder (agent/skills.py reads it). Here so the DAG factory can
# name it without importing the skill loader on every parse of the jobs DAG file.
SKILLS_DIR_ENV = "AGENTJOBS_SKILLS_DIR"
