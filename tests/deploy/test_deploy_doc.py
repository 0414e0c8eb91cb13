"""The deployment page (docs/deploy.md) names only services, profiles and variables the
Compose file has, so its commands work as written."""

from __future__ import annotations

import yaml

from tests.deploy import checks


def _problems(doc: str, compose_text: str | None = None) -> list[str]:
    compose_text = compose_text or checks.COMPOSE.read_text(encoding="utf-8")
    document = checks.load_compose(compose_text, checks.example_env())
    return checks.doc_problems(doc, document, compose_text, checks.ENV_EXAMPLE.read_text(encoding="utf-8"))


def test_the_deploy_doc_matches_the_compose_file() -> None:
    doc = checks.deploy_section()
    assert "docker compose up -d --scale airflow-worker=3" in doc
    assert "docker compose --profile local-model up -d" in doc
    assert _problems(doc) == []


def test_a_renamed_service_profile_or_variable_is_named() -> None:
    doc = checks.deploy_section()
    for old, new in [
        ("--scale airflow-worker=3", "--scale worker=3"),
        ("--profile local-model up", "--profile llm up"),
        ("`LLM_POOL_SLOTS`", "`LLM_POOL_SIZE`"),
        ("docker compose logs airflow-scheduler", "docker compose logs scheduler"),
    ]:
        assert old in doc
        doc = doc.replace(old, new, 1)
    assert _problems(doc) == [
        "docs/deploy.md: --scale worker: no such service",
        "docs/deploy.md: profile llm is not in the Compose file",
        "docs/deploy.md: docker compose logs scheduler: no such service",
        "docs/deploy.md names LLM_POOL_SIZE, which neither the Compose file nor .env.example has",
    ]


def test_a_service_the_compose_file_drops_is_named() -> None:
    compose_text = checks.COMPOSE.read_text(encoding="utf-8")
    document = yaml.safe_load(compose_text)
    del document["services"]["airflow-triggerer"]
    problems = _problems(checks.deploy_section(), yaml.safe_dump(document))
    assert problems == ["docs/deploy.md names service airflow-triggerer, which the Compose file lacks"]
