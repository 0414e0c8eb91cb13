"""docker-compose.yaml, the Dockerfile and .env.example, checked without a Docker engine: valid
Compose by the specification's schema, and in agreement with the project and the installed
Airflow. Each check also runs on a copy broken on purpose, to show it names the mismatch."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy import checks

CONSTRAINTS = (checks.REPO / "constraints.txt").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def compose_text() -> str:
    return checks.COMPOSE.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def dockerfile() -> str:
    return checks.DOCKERFILE.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def document(compose_text: str) -> dict[str, Any]:
    return checks.load_compose(compose_text, checks.example_env())


def broken(text: str, old: str, new: str) -> str:
    """The text with one edit; the edit must apply, or the check would pass on the real file."""
    assert old in text, f"the mutation's anchor {old!r} is not in the file any more"
    return text.replace(old, new, 1)


def load(text: str, **env: str) -> dict[str, Any]:
    return checks.load_compose(text, {**checks.example_env(), **env})


# The services of the Airflow image (the common block's environment, volumes and user).
AIRFLOW_SERVICES = (
    "airflow-init",
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-worker",
    "airflow-cli",
    "flower",
)


# -- the Compose specification ----------------------------------------------------------------


def test_the_compose_file_is_valid_compose(document) -> None:
    assert checks.schema_problems(document) == []
    assert {"postgres", "redis", "airflow-init", "airflow-apiserver", "airflow-scheduler"} <= set(
        document["services"]
    )
    assert {"airflow-dag-processor", "airflow-triggerer", "airflow-worker", "local-model"} <= set(
        document["services"]
    )
    assert {"airflow-cli", "flower"} <= set(document["services"])


def test_the_schema_names_an_unknown_key_and_a_wrong_type(compose_text) -> None:
    typo = load(broken(compose_text, "    restart: always\n", "    restrat: always\n"))
    assert any("restrat" in problem for problem in checks.schema_problems(typo))
    wrong = load(
        broken(compose_text, '    ports:\n      - "${AIRFLOW_API_PORT:-8080}:8080"\n', "    ports: 8080\n")
    )
    assert any(p.startswith("services/airflow-apiserver/ports: ") for p in checks.schema_problems(wrong))


def test_a_missing_required_secret_stops_compose_as_docker_compose_would(compose_text) -> None:
    env = checks.example_env()
    del env["POSTGRES_PASSWORD"]
    with pytest.raises(checks.InterpolationError, match=r"POSTGRES_PASSWORD: set POSTGRES_PASSWORD in \.env"):
        checks.load_compose(compose_text, env)


def test_every_long_running_service_has_a_health_check(document, compose_text) -> None:
    assert checks.healthcheck_problems(document) == []
    # The run-once services are the only ones without a restart policy that restarts them.
    assert {name for name, s in document["services"].items() if s["restart"] == "no"} == {
        "airflow-init",
        "airflow-cli",
    }
    text = broken(compose_text, '      test: ["CMD", "redis-cli", "ping"]\n', "      disable: true\n")
    assert checks.healthcheck_problems(load(text)) == ["service redis has no health check"]
    flower = compose_text[compose_text.index("  flower:\n") :]
    text = broken(
        compose_text,
        flower,
        flower.replace("    healthcheck:\n      # Flower", "    x-was:\n      # Flower", 1),
    )
    assert checks.healthcheck_problems(load(text)) == ["service flower has no health check"]
    text = broken(
        compose_text,
        '    command: ["bash", "-c", "airflow"]\n    restart: "no"\n',
        '    command: ["bash", "-c", "airflow"]\n',
    )
    assert checks.healthcheck_problems(load(text)) == ["service airflow-cli states no restart policy"]


def test_published_ports_are_unique(document, compose_text) -> None:
    assert checks.port_problems(document) == []
    text = broken(compose_text, '    expose:\n      - "8080"\n', '    ports:\n      - "8080:8080"\n')
    assert checks.port_problems(load(text)) == [
        "host port :8080/tcp is published by airflow-apiserver and local-model"
    ]


def test_workers_scale(document, compose_text) -> None:
    assert checks.scale_problems(document) == []
    text = broken(
        compose_text, "    command: celery worker\n", "    command: celery worker\n    container_name: w\n"
    )
    assert checks.scale_problems(load(text)) == [
        "airflow-worker has container_name w: only one copy could run"
    ]


def test_no_secret_is_written_in_the_compose_file(compose_text) -> None:
    assert checks.literal_secret_problems(yaml.safe_load(compose_text)) == []
    text = broken(compose_text, "${SLACK_BOT_TOKEN:-}", "xoxb-written-here")
    assert checks.literal_secret_problems(yaml.safe_load(text)) == [
        "service airflow-init: SLACK_BOT_TOKEN is written in the file; take it from .env as ${VAR}",
        "service airflow-init: a value looks like a Slack token",
    ]
    text = broken(compose_text, "${FLOWER_BASIC_AUTH:-}", "admin:hunter2")
    assert checks.literal_secret_problems(yaml.safe_load(text)) == [
        "service flower: AIRFLOW__CELERY__FLOWER_BASIC_AUTH is written in the file; "
        "take it from .env as ${VAR}"
    ]
    # A password inside a URL, as Airflow's own file writes its metadata DB's: every service with the
    # common environment carries it.
    text = broken(
        compose_text,
        "${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD in .env}@postgres:5432/airflow\n",
        "airflow@postgres:5432/airflow\n",
    )
    problems = checks.literal_secret_problems(yaml.safe_load(text))
    assert "service flower: a postgresql+psycopg2:// URL's password is written in the file" in problems
    assert {p.split(":")[0] for p in problems} == {f"service {n}" for n in AIRFLOW_SERVICES}
    # A credential's shape anywhere, here in a command line.
    text = broken(
        compose_text,
        "command: celery flower",
        "command: celery flower --basic-auth=ops:ghp_0123456789abcdefghijABCDEFGHIJ",
    )
    assert checks.literal_secret_problems(yaml.safe_load(text)) == [
        "service flower: a value looks like a GitHub token"
    ]


def test_the_build_targets_are_stages_of_the_dockerfile(document, dockerfile, compose_text) -> None:
    assert checks.compose_targets_problems(document, dockerfile) == []
    text = broken(compose_text, "      target: local-model\n", "      target: llama\n")
    assert checks.compose_targets_problems(load(text), dockerfile) == [
        "service local-model builds target llama, which the Dockerfile lacks"
    ]


# -- mounts, profiles and the broker, as Airflow's own Compose file has them ----------------------


def test_the_project_folders_are_bind_mounted_as_in_airflows_compose_file(document) -> None:
    assert checks.mount_problems(document) == []
    binds = {
        (s, t) for kind, s, t in checks._mounts(document["services"]["airflow-worker"]) if kind == "bind"
    }
    assert binds == {
        ("./dags", "/opt/airflow/dags"),
        ("./plugins", "/opt/airflow/plugins"),
        ("./config", "/opt/airflow/config"),
        ("./logs", "/opt/airflow/logs"),
        ("./include", "/opt/airflow/include"),
    }
    # Every Airflow service sees the same project files (the common block's volumes).
    for name in AIRFLOW_SERVICES:
        assert binds <= {(s, t) for _, s, t in checks._mounts(document["services"][name])}, name
    # The job specs and skills the DAG file and the tasks read are under the mounted include/.
    env = checks.environment_of(document["services"]["airflow-worker"])
    assert env["AGENTJOBS_JOBS_DIR"].startswith("/opt/airflow/include/")
    assert env["AGENTJOBS_SKILLS_DIR"].startswith("/opt/airflow/include/")
    assert (checks.REPO / "include" / "jobs" / "daily-digest.yaml").is_file()


def test_a_mount_neither_in_the_repository_nor_made_by_the_init_is_named(document, compose_text) -> None:
    typo = checks.mount_problems(
        load(broken(compose_text, "/dags:/opt/airflow/dags", "/dag:/opt/airflow/dags"))
    )
    assert typo == sorted(
        f"service {n} mounts ./dag, which is neither in the repository nor created by airflow-init"
        for n in AIRFLOW_SERVICES
    )
    # logs/ is in no clone: the init must create it.
    text = broken(
        compose_text, "mkdir -p /opt/airflow/logs /opt/airflow/config", "mkdir -p /opt/airflow/config"
    )
    problems = checks.mount_problems(load(text))
    assert len(problems) == len(AIRFLOW_SERVICES) and all("mounts ./logs, which" in p for p in problems)
    undeclared = broken(compose_text, "\n  agentjobs-state:\n", "\n  agentjobs-stat:\n")
    assert (
        "service flower mounts volume agentjobs-state, which volumes: does not declare"
        in checks.mount_problems(load(undeclared))
    )
    outside = checks.mount_problems(load(compose_text, AIRFLOW_PROJ_DIR="/srv/elsewhere"))
    assert "service airflow-worker mounts /srv/elsewhere/dags, outside the project" in outside


def test_what_the_services_write_belongs_to_the_user_they_run_as(document, compose_text) -> None:
    assert checks.ownership_problems(document) == []
    assert document["services"]["airflow-worker"]["user"] == "50000:0"
    assert document["services"]["airflow-init"]["user"] == "0:0"
    # AIRFLOW_UID moves the services and the init's chown together.
    assert checks.ownership_problems(load(compose_text, AIRFLOW_UID="1000")) == []
    text = broken(compose_text, " /opt/airflow/agentjobs-state\n", "\n")
    problems = checks.ownership_problems(load(text))
    assert (
        "airflow-init does not chown /opt/airflow/agentjobs-state to 50000:0, whom airflow-worker runs as"
        in problems
    )
    assert len(problems) == len(AIRFLOW_SERVICES) - 1


def test_the_debug_flower_and_local_model_profiles(document, compose_text) -> None:
    assert checks.profile_problems(document) == []
    assert {name: s.get("profiles") for name, s in document["services"].items() if s.get("profiles")} == {
        "airflow-cli": ["debug"],
        "flower": ["flower"],
        "local-model": ["local-model"],
    }
    text = broken(compose_text, '    profiles: ["flower"]\n', "")
    assert checks.profile_problems(load(text)) == ["service flower has profiles none, expected ['flower']"]
    worker = compose_text.index("  airflow-worker:\n")
    head, tail = compose_text[:worker], compose_text[worker:]
    waits = "      airflow-apiserver:\n        condition: service_healthy\n"
    tail = broken(tail, waits, waits + "      local-model:\n        condition: service_healthy\n")
    assert checks.profile_problems(load(head + tail)) == [
        "service airflow-worker depends on local-model, which only profile ['local-model'] starts"
    ]


def test_flower_and_the_workers_use_the_schedulers_broker(document, compose_text) -> None:
    assert checks.celery_problems(document) == []
    celery = [n for n, s in document["services"].items() if str(s.get("command", "")).startswith("celery")]
    assert celery == ["airflow-worker", "flower"]
    assert checks.environment_of(document["services"]["flower"])["AIRFLOW__CELERY__BROKER_URL"].startswith(
        "redis://:change-me-redis-password@redis:6379/"
    )
    text = broken(
        compose_text,
        "      AIRFLOW__CELERY__FLOWER_BASIC_AUTH:",
        "      AIRFLOW__CELERY__BROKER_URL: redis://redis:6379/1\n      AIRFLOW__CELERY__FLOWER_BASIC_AUTH:",
    )
    assert checks.celery_problems(load(text)) == [
        "service flower (celery flower): AIRFLOW__CELERY__BROKER_URL is not airflow-scheduler's"
    ]
    flower = compose_text[compose_text.index("  flower:\n") :]
    waits = "    depends_on:\n      <<: *airflow-common-depends-on\n      airflow-init:\n"
    text = broken(compose_text, flower, broken(flower, waits, "    depends_on:\n      airflow-init:\n"))
    assert checks.celery_problems(load(text)) == ["service flower does not wait for the broker redis"]


# -- the Dockerfile against the project -------------------------------------------------------


def test_the_image_is_the_pinned_airflow_on_a_supported_python(dockerfile) -> None:
    assert checks.image_problems(dockerfile, CONSTRAINTS) == []
    old = broken(dockerfile, "apache/airflow:3.3.2-python3.11", "apache/airflow:3.1.8-python3.11")
    problems = checks.image_problems(old, CONSTRAINTS)
    assert "apache/airflow:3.1.8-python3.11: Airflow 3.1.8 but constraints.txt pins 3.3.2" in problems
    assert any("outside pyproject's apache-airflow" in problem for problem in problems)
    py39 = broken(dockerfile, "apache/airflow:3.3.2-python3.11", "apache/airflow:3.3.2-python3.9")
    assert checks.image_problems(py39, CONSTRAINTS) == [
        "apache/airflow:3.3.2-python3.9: Python 3.9 outside requires-python >=3.11"
    ]
    latest = broken(dockerfile, "apache/airflow:3.3.2-python3.11", "apache/airflow:latest")
    assert (
        "the tag must name the Airflow and Python versions" in checks.image_problems(latest, CONSTRAINTS)[0]
    )


def test_the_extras_installed_exist_in_pyproject(dockerfile) -> None:
    assert {"postgres", "celery", "statsd", "local"} <= checks.extras_in(dockerfile)
    assert checks.extras_problems(dockerfile) == []
    text = broken(dockerfile, "[postgres,celery,statsd]", "[postgres,celery,statsd,kubernetes]")
    assert checks.extras_problems(text) == ["extra [kubernetes] is not in pyproject.toml"]


def test_every_copy_source_exists_and_survives_the_dockerignore(dockerfile) -> None:
    assert checks.copy_problems(dockerfile) == []
    text = broken(dockerfile, "COPY --chown=airflow:0 include/", "COPY --chown=airflow:0 includes/")
    assert checks.copy_problems(text) == ["COPY source includes/ does not exist"]
    ignore = (checks.REPO / ".dockerignore").read_text(encoding="utf-8")
    assert checks.dockerignore_problems(dockerfile, ignore) == []
    assert checks.dockerignore_problems(dockerfile, ignore + "plugins/\n") == [
        ".dockerignore leaves out plugins/, which the Dockerfile copies"
    ]
    assert checks.dockerignore_problems(dockerfile, ignore.replace(".env\n", "")) == [
        ".dockerignore does not leave out .env (the secrets)"
    ]


def test_the_env_file_is_ignored_by_git() -> None:
    ignored = (checks.REPO / ".gitignore").read_text(encoding="utf-8").split()
    assert ".env" in ignored


# -- variables against Airflow and agentjobs --------------------------------------------------


def test_every_airflow_variable_is_an_option_of_the_installed_airflow(document, compose_text) -> None:
    names = checks.all_environment_names(document)
    assert {"AIRFLOW__CORE__EXECUTOR", "AIRFLOW__CELERY__BROKER_URL"} <= names
    assert checks.airflow_option_problems(names) == []
    text = broken(compose_text, "AIRFLOW__CORE__EXECUTOR:", "AIRFLOW__CORE__EXECUTER:")
    text = broken(text, "AIRFLOW__API_AUTH__JWT_SECRET:", "AIRFLOW__APIAUTH__JWT_SECRET:")
    assert checks.airflow_option_problems(checks.all_environment_names(load(text))) == [
        "AIRFLOW__APIAUTH__JWT_SECRET: Airflow has no [apiauth] section",
        "AIRFLOW__CORE__EXECUTER: Airflow's [core] has no option executer",
    ]


def test_every_agentjobs_variable_is_one_the_code_reads(document, compose_text) -> None:
    names = checks.all_environment_names(document)
    assert {"AGENTJOBS_JOBS_DIR", "AGENTJOBS_ARTIFACT_BASE"} <= names
    assert checks.agentjobs_variable_problems(names) == []
    text = broken(compose_text, "AGENTJOBS_JOBS_DIR:", "AGENTJOBS_JOB_DIR:")
    assert checks.agentjobs_variable_problems(checks.all_environment_names(load(text))) == [
        "AGENTJOBS_JOB_DIR is set but no code in src/, dags/ or plugins/ reads it"
    ]


def test_every_variable_is_documented_in_env_example_without_a_real_secret(compose_text) -> None:
    example = checks.ENV_EXAMPLE.read_text(encoding="utf-8")
    assert checks.env_example_problems(compose_text, example) == []
    undocumented = broken(example, "GITHUB_TOKEN=\n", "")
    assert checks.env_example_problems(compose_text, undocumented) == [
        "${GITHUB_TOKEN} is used by the Compose file but not in .env.example"
    ]
    leaked = broken(
        example, "LLM_API_KEY=change-me-llm-api-key", "LLM_API_KEY=sk-proj-AbCdEf0123456789xyzXYZ"
    )
    problems = checks.env_example_problems(compose_text, leaked)
    assert ".env.example holds what looks like an OpenAI key: sk-proj-AbCd..." in problems
    assert ".env.example gives LLM_API_KEY a value; leave it empty or a change-me placeholder" in problems
    fernet = broken(example, "AIRFLOW_FERNET_KEY=change-me-fernet-key", f"AIRFLOW_FERNET_KEY={'A' * 43}=")
    assert any("a Fernet key" in problem for problem in checks.env_example_problems(compose_text, fernet))
    flower = broken(example, "FLOWER_BASIC_AUTH=\n", "FLOWER_BASIC_AUTH=admin:admin\n")
    assert checks.env_example_problems(compose_text, flower) == [
        ".env.example gives FLOWER_BASIC_AUTH a value; leave it empty or a change-me placeholder"
    ]


def test_the_init_hands_compose_init_every_variable_it_reads(document) -> None:
    source = (checks.REPO / "src" / "agentjobs" / "compose_init.py").read_text(encoding="utf-8")
    from agentjobs import compose_init

    read = set(re.findall(r"_(?:value|required)\(env, \"([A-Z0-9_]+)\"", source)) | {
        compose_init.METADATA_URL_VAR
    }
    assert {"LLM_BASE_URL", "SLACK_WEBHOOK_URL", "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"} <= read
    given = checks.environment_of(document["services"]["airflow-init"])
    assert sorted(read - set(given)) == []
    # ...and no long-running service carries the connections' secrets.
    for name in ("airflow-apiserver", "airflow-scheduler", "airflow-worker", "airflow-triggerer", "flower"):
        env = checks.environment_of(document["services"][name])
        assert not {"LLM_API_KEY", "SLACK_BOT_TOKEN", "SMTP_PASSWORD", "AWS_SECRET_ACCESS_KEY"} & set(env)


# -- Airflow CLI commands -----------------------------------------------------------------------


def test_every_airflow_command_parses_with_airflows_own_cli(document) -> None:
    commands = checks.airflow_commands(document)
    ran = {(service, " ".join(argv[:2])) for service, argv in commands}
    assert {
        ("airflow-init", "db migrate"),
        ("airflow-init", "connections import"),
        ("airflow-init", "pools set"),
        ("airflow-apiserver", "api-server"),
        ("airflow-worker", "celery worker"),
        ("airflow-dag-processor", "jobs check"),
        ("flower", "celery flower"),
    } <= ran
    # airflow-cli's default command is a bare `airflow` (the usage): nothing to parse.
    assert not [argv for service, argv in commands if service == "airflow-cli"]
    assert checks.cli_problems(commands) == []


def test_the_deploy_pages_airflow_cli_commands_parse(document) -> None:
    commands = checks.doc_airflow_commands(checks.deploy_section())
    assert ("docs/deploy.md: docker compose run airflow-cli", ["dags", "list"]) in commands
    assert checks.cli_problems(commands) == []
    wrong = checks.doc_airflow_commands("    docker compose run --rm airflow-cli dags lsit\n")
    problems = checks.cli_problems(wrong)
    assert len(problems) == 1 and problems[0].startswith(
        "docs/deploy.md: docker compose run airflow-cli: airflow dags lsit:"
    )


def test_a_command_airflow_refuses_is_named(compose_text) -> None:
    text = broken(compose_text, "airflow pools set agentjobs_llm", "airflow pools sett agentjobs_llm")
    text = broken(text, "command: celery worker", "command: celery wrker")
    text = broken(text, "--job-type TriggererJob", "--job-kind TriggererJob")
    problems = checks.cli_problems(checks.airflow_commands(load(text)))
    assert [problem.split(":")[0] for problem in problems] == [
        "airflow-init",
        "airflow-triggerer",
        "airflow-worker",
    ]
    assert "airflow pools sett" in problems[0] and "invalid choice: 'sett'" in problems[0]
    assert "airflow celery wrker" in problems[2]


def test_the_vendored_schema_is_the_compose_specification() -> None:
    schema = Path(checks.SCHEMA).read_text(encoding="utf-8")
    assert '"title": "Compose Specification"' in schema
    assert "170098ba07d9f53c383a41bfd4c5166b0a4529a6" in checks.deploy_section()
