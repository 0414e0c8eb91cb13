"""What the Compose deployment's `airflow-init` does besides Airflow's own commands: the Airflow
connections the jobs name, built from the `.env` variables, the delivery ledger's database, and
the admin's password for Airflow's simple auth manager.

    python -m agentjobs.compose_init --connections FILE --passwords FILE

It writes FILE in the format `airflow connections import --overwrite FILE` reads (the init
script imports it and deletes it), so the secrets go from `.env` into the metadata DB (encrypted
with the Fernet key) and no other service needs them in its environment. A connection whose
variables are all empty is left out and named as skipped: a deployment without S3 has no
`aws_default`. A secret still holding the `.env.example` placeholder is refused, naming the
variable, so a forgotten step fails the init instead of a run at 03:00.

The connection ids are the ones the shipped job specs name (include/jobs/*.yaml).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa

PLACEHOLDER_PREFIX = "change-me"
LEDGER_CONN_ID = "agentjobs_ledger"
DEFAULT_LEDGER_DB = "agentjobs_ledger"
METADATA_URL_VAR = "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"


class ComposeInitError(ValueError):
    """A variable is missing or still the placeholder; the message names it."""


def _value(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    if value.startswith(PLACEHOLDER_PREFIX):
        raise ComposeInitError(f"{name} still holds the .env.example placeholder; set it in .env")
    return value


def _required(env: Mapping[str, str], name: str, why: str) -> str:
    value = _value(env, name)
    if not value:
        raise ComposeInitError(f"{name} is empty; set it in .env ({why})")
    return value


def llm_connection(env: Mapping[str, str]) -> dict[str, Any]:
    """`agentjobs_llm_default`: every job's model endpoint (docs/llm-connection.md)."""
    extra: dict[str, Any] = {"model": _required(env, "LLM_MODEL", "the model the jobs call")}
    if prices := _value(env, "LLM_PRICES"):
        try:
            extra["prices"] = json.loads(prices)
        except json.JSONDecodeError as exc:
            raise ComposeInitError(f"LLM_PRICES is not JSON: {exc}") from exc
    if timeout := _value(env, "LLM_TIMEOUT_S"):
        extra["timeout"] = float(timeout)
    if per_call := _value(env, "LLM_MAX_TOKENS_PER_CALL"):
        extra["max_tokens_per_call"] = int(per_call)
    return {
        "conn_type": "agentjobs_llm",
        "host": _required(env, "LLM_BASE_URL", "the OpenAI-compatible endpoint, ending in /v1"),
        "password": _required(env, "LLM_API_KEY", "any value for a local server"),
        "extra": json.dumps(extra),
    }


def ledger_connection(env: Mapping[str, str]) -> dict[str, Any]:
    """`agentjobs_ledger`: the delivery ledger and run log, a database of its own on the
    deployment's PostgreSQL, so every worker host shares one ledger."""
    url = sa.make_url(_required(env, METADATA_URL_VAR, "the metadata database"))
    return {
        "conn_type": "postgres",
        "host": url.host,
        "port": url.port or 5432,
        "login": url.username,
        "password": url.password,
        "schema": _value(env, "LEDGER_DB") or DEFAULT_LEDGER_DB,
    }


def slack_connection(env: Mapping[str, str]) -> dict[str, Any] | None:
    """`slack_default`: an Incoming Webhook (`slackwebhook`) or a bot token (`slack` API)."""
    webhook, token = _value(env, "SLACK_WEBHOOK_URL"), _value(env, "SLACK_BOT_TOKEN")
    if webhook and token:
        raise ComposeInitError("set SLACK_WEBHOOK_URL or SLACK_BOT_TOKEN, not both (one slack_default)")
    if webhook:
        return {"conn_type": "slackwebhook", "password": webhook}
    if token:
        return {"conn_type": "slack", "password": token}
    return None


def smtp_connection(env: Mapping[str, str]) -> dict[str, Any] | None:
    """`smtp_default`: SMTP_SECURITY is `starttls` (port 587, the default), `ssl` (465) or `none`."""
    host = _value(env, "SMTP_HOST")
    if not host:
        return None
    security = _value(env, "SMTP_SECURITY") or "starttls"
    if security not in {"starttls", "ssl", "none"}:
        raise ComposeInitError(f"SMTP_SECURITY is {security!r}; use starttls, ssl or none")
    extra = {
        "from_email": _required(env, "SMTP_FROM", "the sender of digests and alerts"),
        "disable_ssl": security != "ssl",
        "disable_tls": security != "starttls",
    }
    conn: dict[str, Any] = {
        "conn_type": "smtp",
        "host": host,
        "port": int(_value(env, "SMTP_PORT") or (465 if security == "ssl" else 587)),
        "extra": json.dumps(extra),
    }
    if login := _value(env, "SMTP_USER"):
        conn["login"] = login
        conn["password"] = _required(env, "SMTP_PASSWORD", "SMTP_USER is set")
    return conn


def aws_connection(env: Mapping[str, str]) -> dict[str, Any] | None:
    """`aws_default`: the S3 channel; S3_ENDPOINT_URL for an S3-compatible store (MinIO)."""
    key_id = _value(env, "AWS_ACCESS_KEY_ID")
    if not key_id:
        return None
    extra = {"region_name": _required(env, "AWS_REGION", "the bucket's region")}
    if endpoint := _value(env, "S3_ENDPOINT_URL"):
        extra["endpoint_url"] = endpoint
    return {
        "conn_type": "aws",
        "login": key_id,
        "password": _required(env, "AWS_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID is set"),
        "extra": json.dumps(extra),
    }


def github_connection(env: Mapping[str, str]) -> dict[str, Any] | None:
    """`github_default`: without it the GitHub source fetches anonymously (60 requests an hour)."""
    token = _value(env, "GITHUB_TOKEN")
    return {"conn_type": "github", "password": token} if token else None


def business_connection(env: Mapping[str, str]) -> str | None:
    """`agentjobs_business`: the business database of the fan-out jobs, as an Airflow connection
    URI (`postgres://user:password@host:5432/db`)."""
    return _value(env, "BUSINESS_DB_URI") or None


def connections_from_env(env: Mapping[str, str]) -> tuple[dict[str, Any], list[str]]:
    """(the connections file's content, the ids skipped because their variables are empty)."""
    optional = {
        "slack_default": slack_connection(env),
        "smtp_default": smtp_connection(env),
        "aws_default": aws_connection(env),
        "github_default": github_connection(env),
        "agentjobs_business": business_connection(env),
    }
    connections: dict[str, Any] = {
        "agentjobs_llm_default": llm_connection(env),
        LEDGER_CONN_ID: ledger_connection(env),
    }
    connections.update({conn_id: conn for conn_id, conn in optional.items() if conn is not None})
    return connections, [conn_id for conn_id, conn in optional.items() if conn is None]


def ensure_ledger_database(env: Mapping[str, str]) -> bool:
    """Create the ledger's database on the metadata DB's server unless it exists; True if created."""
    name = _value(env, "LEDGER_DB") or DEFAULT_LEDGER_DB
    if not name.replace("_", "").isalnum():
        raise ComposeInitError(f"LEDGER_DB {name!r} must be letters, digits and underscores")
    url = sa.make_url(_required(env, METADATA_URL_VAR, "the metadata database"))
    # CREATE DATABASE cannot run inside a transaction.
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            query = sa.text("SELECT 1 FROM pg_database WHERE datname = :name")
            if conn.execute(query, {"name": name}).first():
                return False
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
            return True
    finally:
        engine.dispose()


def refuse_placeholders(env: Mapping[str, str]) -> None:
    """Every variable of the init's environment (the Airflow secrets included, e.g. the Fernet key
    inside AIRFLOW__CORE__FERNET_KEY) must have left the .env.example placeholder behind."""
    left = sorted(name for name, value in env.items() if PLACEHOLDER_PREFIX in value)
    if left:
        raise ComposeInitError(
            f"still the .env.example placeholder ({PLACEHOLDER_PREFIX}...): {', '.join(left)}; "
            "replace each in .env (docs/deploy.md says how to generate them)"
        )


def admin_passwords(env: Mapping[str, str]) -> dict[str, str]:
    """The simple auth manager's passwords file: the one admin of AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS."""
    user = _required(env, "AIRFLOW_ADMIN_USER", "the UI's admin login")
    return {user: _required(env, "AIRFLOW_ADMIN_PASSWORD", "the UI's admin password")}


def _write_private(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle)
        handle.write("\n")


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m agentjobs.compose_init", description=__doc__)
    parser.add_argument("--connections", type=Path, required=True, help="connections file to write")
    parser.add_argument("--passwords", type=Path, required=True, help="simple auth manager passwords file")
    parser.add_argument("--no-ledger-db", action="store_true", help="do not create the ledger database")
    args = parser.parse_args(argv)
    env = os.environ if env is None else env
    try:
        refuse_placeholders(env)
        connections, skipped = connections_from_env(env)
        passwords = admin_passwords(env)
        created = False if args.no_ledger_db else ensure_ledger_database(env)
    except (ComposeInitError, ValueError) as exc:
        print(f"agentjobs compose init: {exc}", file=sys.stderr)
        return 1
    _write_private(args.connections, connections)
    _write_private(args.passwords, passwords)
    # Names only: the values are secrets.
    print(f"agentjobs compose init: connections {', '.join(connections)}")
    if skipped:
        print(f"agentjobs compose init: skipped (their .env variables are empty): {', '.join(skipped)}")
    ledger = _value(env, "LEDGER_DB") or DEFAULT_LEDGER_DB
    print(f"agentjobs compose init: ledger database {ledger} {'created' if created else 'exists'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
