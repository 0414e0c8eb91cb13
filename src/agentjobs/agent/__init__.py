"""The agent runtime: a tool loop under hard caps. Imports nothing from Airflow."""
