"""agentjobs.compose_init, what airflow-init runs: the .env variables become the connections the
jobs name, in the file `airflow connections import` reads; placeholders are refused by name."""

from __future__ import annotations

import json
import os
import stat
import uuid

import pytest
import sqlalchemy as sa

from agentjobs import compose_init
from tests.deploy import checks

PG_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"


def filled_env(**overrides: str) -> dict[str, str]:
    """The init's environment for .env.example with every placeholder filled in."""
    env = {name: value.replace("change-me", "filled") for name, value in checks.example_env().items()}
    env[compose_init.METADATA_URL_VAR] = "postgresql+psycopg2://airflow:pg-pass-1@postgres:5432/airflow"
    env.update(overrides)
    return env


def imported(tmp_path, env: dict[str, str]) -> dict:
    """What `airflow connections import` would store, read with Airflow's own file loader."""
    from airflow.secrets.local_filesystem import load_connections_dict

    target, passwords = tmp_path / "connections.json", tmp_path / "auth" / "passwords.json"
    assert (
        compose_init.main(
            ["--connections", str(target), "--passwords", str(passwords), "--no-ledger-db"], env
        )
        == 0
    )
    assert stat.S_IMODE(target.stat().st_mode) == 0o600  # secrets: readable by the init's user only
    return load_connections_dict(str(target))


def test_the_example_env_gives_the_llm_and_ledger_connections_and_skips_the_rest(tmp_path, capsys) -> None:
    conns = imported(tmp_path, filled_env())
    assert sorted(conns) == ["agentjobs_ledger", "agentjobs_llm_default"]
    llm = conns["agentjobs_llm_default"]
    assert (llm.conn_type, llm.host, llm.password) == (
        "agentjobs_llm",
        "https://api.openai.com/v1",
        "filled-llm-api-key",
    )
    assert llm.extra_dejson == {"model": "gpt-4o-mini"}
    ledger = conns["agentjobs_ledger"]
    assert (ledger.conn_type, ledger.host, ledger.port, ledger.schema) == (
        "postgres",
        "postgres",
        5432,
        "agentjobs_ledger",
    )
    assert (ledger.login, ledger.password) == ("airflow", "pg-pass-1")
    out = capsys.readouterr().out
    assert "skipped (their .env variables are empty): slack_default, smtp_default, aws_default" in out
    assert "filled" not in out and "pg-pass-1" not in out  # names only, never a value
    passwords = json.loads((tmp_path / "auth" / "passwords.json").read_text())
    assert passwords == {"admin": "filled-admin-password"}


def test_every_channel_the_specs_name_becomes_its_connection(tmp_path) -> None:
    env = filled_env(
        LLM_PRICES='{"*": {"input": 0.15, "output": 0.6}}',
        LLM_TIMEOUT_S="300",
        LLM_MAX_TOKENS_PER_CALL="512",
        SLACK_BOT_TOKEN="bot-token-1",
        SMTP_HOST="mail.example.org",
        SMTP_USER="digest",
        SMTP_PASSWORD="smtp-pass-1",
        AWS_ACCESS_KEY_ID="key-id-1",
        AWS_SECRET_ACCESS_KEY="secret-1",
        S3_ENDPOINT_URL="http://minio:9000",
        GITHUB_TOKEN="gh-token-1",
        BUSINESS_DB_URI="postgres://biz:biz-pass@db.example.org:5432/business",
    )
    conns = imported(tmp_path, env)
    assert conns["agentjobs_llm_default"].extra_dejson == {
        "model": "gpt-4o-mini",
        "prices": {"*": {"input": 0.15, "output": 0.6}},
        "timeout": 300.0,
        "max_tokens_per_call": 512,
    }
    assert (conns["slack_default"].conn_type, conns["slack_default"].password) == ("slack", "bot-token-1")
    smtp = conns["smtp_default"]
    assert (smtp.host, smtp.port, smtp.login, smtp.password) == (
        "mail.example.org",
        587,
        "digest",
        "smtp-pass-1",
    )
    assert smtp.extra_dejson == {
        "from_email": "digest@example.org",
        "disable_ssl": True,
        "disable_tls": False,
    }
    aws = conns["aws_default"]
    assert (aws.conn_type, aws.login, aws.password) == ("aws", "key-id-1", "secret-1")
    assert aws.extra_dejson == {"region_name": "eu-central-1", "endpoint_url": "http://minio:9000"}
    assert (conns["github_default"].conn_type, conns["github_default"].password) == ("github", "gh-token-1")
    business = conns["agentjobs_business"]
    assert (business.conn_type, business.host, business.schema) == ("postgres", "db.example.org", "business")
    # The ids are the ones the shipped specs name.
    specs = "\n".join(p.read_text() for p in (checks.REPO / "include" / "jobs").glob("*.yaml"))
    for conn_id in conns:
        if conn_id != "agentjobs_ledger":
            assert conn_id in specs


def test_a_webhook_is_a_slackwebhook_connection_and_ssl_smtp_uses_465(tmp_path) -> None:
    env = filled_env(
        SLACK_WEBHOOK_URL="https://hooks.example.org/abc", SMTP_HOST="mail.example.org", SMTP_SECURITY="ssl"
    )
    conns = imported(tmp_path, env)
    assert (conns["slack_default"].conn_type, conns["slack_default"].password) == (
        "slackwebhook",
        "https://hooks.example.org/abc",
    )
    assert conns["smtp_default"].port == 465
    assert conns["smtp_default"].extra_dejson["disable_ssl"] is False


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"AIRFLOW__CORE__FERNET_KEY": "change-me-fernet-key"},
            "placeholder (change-me...): AIRFLOW__CORE__FERNET_KEY",
        ),
        ({"LLM_API_KEY": ""}, "LLM_API_KEY is empty; set it in .env"),
        ({"SLACK_WEBHOOK_URL": "https://h.example/x", "SLACK_BOT_TOKEN": "t"}, "not both"),
        ({"SMTP_HOST": "mail.example.org", "SMTP_SECURITY": "tls"}, "SMTP_SECURITY is 'tls'"),
        ({"AWS_ACCESS_KEY_ID": "key-id-1"}, "AWS_SECRET_ACCESS_KEY is empty"),
        ({"LLM_PRICES": "{not json"}, "LLM_PRICES is not JSON"),
    ],
)
def test_a_bad_env_fails_the_init_naming_the_variable_and_writes_nothing(
    tmp_path, capsys, overrides, message
) -> None:
    target = tmp_path / "connections.json"
    args = ["--connections", str(target), "--passwords", str(tmp_path / "p.json"), "--no-ledger-db"]
    assert compose_init.main(args, filled_env(**overrides)) == 1
    assert message in capsys.readouterr().err
    assert not target.exists()


def test_the_example_env_itself_is_refused_until_filled(tmp_path, capsys) -> None:
    env = dict(checks.example_env())
    env[compose_init.METADATA_URL_VAR] = "postgresql+psycopg2://airflow:x@postgres/airflow"
    args = [
        "--connections",
        str(tmp_path / "c.json"),
        "--passwords",
        str(tmp_path / "p.json"),
        "--no-ledger-db",
    ]
    assert compose_init.main(args, env) == 1
    err = capsys.readouterr().err
    for name in ("AIRFLOW_ADMIN_PASSWORD", "LLM_API_KEY", "REDIS_PASSWORD"):
        assert name in err


def _postgres_or_skip() -> None:
    try:
        engine = sa.create_engine(PG_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
        engine.dispose()
    except (sa.exc.OperationalError, ImportError) as exc:
        reason = f"PostgreSQL not reachable at 127.0.0.1:5432: {getattr(exc, 'orig', None) or exc}"
        if os.environ.get("AGENTJOBS_REQUIRE_SERVICES") == "1":
            pytest.fail(reason + " (AGENTJOBS_REQUIRE_SERVICES=1)")
        pytest.skip(reason)


def test_the_ledger_database_is_created_once_on_the_metadata_server() -> None:
    _postgres_or_skip()
    name = f"compose_ledger_{uuid.uuid4().hex[:8]}"
    env = {compose_init.METADATA_URL_VAR: PG_URL, "LEDGER_DB": name}
    try:
        assert compose_init.ensure_ledger_database(env) is True
        assert compose_init.ensure_ledger_database(env) is False  # a second `up` keeps it
        ledger = sa.create_engine(PG_URL.rsplit("/", 1)[0] + f"/{name}")
        with ledger.connect() as conn:
            assert conn.execute(sa.text("select current_database()")).scalar() == name
        ledger.dispose()
    finally:
        admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    with pytest.raises(compose_init.ComposeInitError, match="letters, digits and underscores"):
        compose_init.ensure_ledger_database({**env, "LEDGER_DB": 'x"; drop'})


def test_airflows_connections_import_stores_them_and_a_second_up_updates_them(airflow_db, tmp_path) -> None:
    from airflow.cli import cli_parser
    from airflow.models.connection import Connection
    from airflow.utils.session import create_session

    from agentjobs.hooks.llm_settings import settings_from_fields

    def up(**overrides: str) -> None:
        target = tmp_path / "connections.json"
        args = ["--connections", str(target), "--passwords", str(tmp_path / "p.json"), "--no-ledger-db"]
        assert compose_init.main(args, filled_env(**overrides)) == 0
        # The init script's own command line, through Airflow's parser and command.
        parsed = cli_parser.get_parser().parse_args(["connections", "import", "--overwrite", str(target)])
        parsed.func(parsed)

    def stored(conn_id: str) -> Connection:
        with create_session() as session:
            conn = session.query(Connection).filter(Connection.conn_id == conn_id).one()
            session.expunge(conn)
            return conn

    up(LLM_MODEL="model-a")
    up(LLM_MODEL="model-b", LLM_API_KEY="rotated-key")
    llm = stored("agentjobs_llm_default")
    settings = settings_from_fields(llm.conn_id, llm.host, llm.password, llm.extra_dejson)
    assert (settings.base_url, settings.api_key, settings.model) == (
        "https://api.openai.com/v1",
        "rotated-key",
        "model-b",
    )
    assert stored("agentjobs_ledger").schema == "agentjobs_ledger"
