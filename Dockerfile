# syntax=docker/dockerfile:1
# The agentjobs image: the official Airflow image of the version constraints.txt pins, with this
# provider and its deployment extras installed against the same constraints the suite ran on, and
# the jobs in the Airflow project layout (dags/, include/, plugins/ under /opt/airflow), where
# jobs_folder() finds include/jobs beside dags/. No secret is baked in: every credential comes
# from the Compose .env at run time. tests/deploy/ checks this file against the project.
#
#   docker build -t agentjobs-airflow .                          # the Airflow services
#   docker build --target local-model -t agentjobs-local-model .  # the optional embedded model

FROM apache/airflow:3.3.2-python3.11 AS airflow

USER airflow
WORKDIR /opt/airflow

# The provider from this checkout, built as its wheel is: pyproject.toml's readme needs README.md,
# and setup.py copies include/ and the DAG files into the package (agentjobs/shipped/), so
# `agentjobs init` and the CLI work in the image as they do from PyPI.
COPY --chown=airflow:0 pyproject.toml setup.py MANIFEST.in README.md constraints.txt /opt/agentjobs/
COPY --chown=airflow:0 src/ /opt/agentjobs/src/
COPY --chown=airflow:0 include/ /opt/agentjobs/include/
COPY --chown=airflow:0 dags/ /opt/agentjobs/dags/
RUN pip install --no-cache-dir -c /opt/agentjobs/constraints.txt "/opt/agentjobs[postgres,celery,statsd]"

COPY --chown=airflow:0 dags/ /opt/airflow/dags/
COPY --chown=airflow:0 include/ /opt/airflow/include/
COPY --chown=airflow:0 plugins/ /opt/airflow/plugins/

# Folders the Compose file mounts named volumes on: a new volume takes the image's ownership,
# so the airflow user can write them. The Compose file points every job at the PostgreSQL ledger
# (AGENTJOBS_LEDGER_CONN_ID); should that be unset, $AIRFLOW_HOME/agentjobs-ledger.db links into
# agentjobs-state, so the containers on one host still share one SQLite ledger, not one file each.
RUN mkdir -p /opt/airflow/agentjobs-out /opt/airflow/agentjobs-state /opt/airflow/auth \
    && ln -s /opt/airflow/agentjobs-state/agentjobs-ledger.db /opt/airflow/agentjobs-ledger.db


# The embedded default model as a service of its own (Compose profile `local-model`): llama.cpp's
# server compiled with the portable flags of local-build.env, and the Gemma 3 270M weights
# assembled at build time, so the container starts in seconds and needs no network.
FROM airflow AS local-model

USER root
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && apt-get clean \
    && rm -rf /var/lib/apt/lists/*
USER airflow

ENV AGENTJOBS_CACHE=/opt/airflow/model-cache
RUN . /opt/agentjobs/src/agentjobs/local-build.env \
    && pip install --no-cache-dir -c /opt/agentjobs/constraints.txt "/opt/agentjobs[local]" \
    && python -c "from agentjobs.local_model import llama_server_binary, model_file; llama_server_binary(); model_file()"

EXPOSE 8080
ENTRYPOINT ["/usr/bin/dumb-init", "--", "agentjobs"]
CMD ["local-model", "--host", "0.0.0.0", "--port", "8080"]


# The default target (a plain `docker build .`) is the Airflow image, not the model's.
FROM airflow
