"""Jobs as configuration: a YAML spec in include/jobs/ plus a skill folder make a DAG."""
