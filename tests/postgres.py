"""A fresh PostgreSQL database of a test's own on the machine's server (127.0.0.1:5432, trust auth).

Without the server the test skips with the reason, except under AGENTJOBS_REQUIRE_SERVICES=1
(set by .ci/run), where it fails.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

PG_ADMIN_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"


def reachable_engine(url: str = PG_ADMIN_URL) -> sa.Engine:
    """An engine on `url` once a connection to it works; else the test skips (fails in CI)."""
    probe = sa.create_engine(url, connect_args={"connect_timeout": 3})
    try:
        with probe.connect():
            pass
    except sa.exc.OperationalError as exc:
        probe.dispose()
        reason = f"PostgreSQL at 127.0.0.1:5432 (db test, user postgres) is unreachable: {exc.orig}"
        if os.environ.get("AGENTJOBS_REQUIRE_SERVICES") == "1":
            pytest.fail(reason + " (AGENTJOBS_REQUIRE_SERVICES=1)")
        pytest.skip(reason)
    return probe


@contextlib.contextmanager
def own_schema(
    prefix: str,
    url: str = PG_ADMIN_URL,
    options: str = "",
    fill: Callable[[sa.Engine, str], None] | None = None,
) -> Iterator[tuple[sa.Engine, str]]:
    """(engine, schema): a schema of the test's own in the test database (created empty, or by
    `fill(probe, schema)`), the engine's search_path set to it plus `options`; dropped afterwards."""
    probe = reachable_engine(url)
    schema = f"{prefix}_{uuid.uuid4().hex[:10]}"
    if fill is None:
        with probe.begin() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    else:
        fill(probe, schema)
    engine = sa.create_engine(url, connect_args={"options": f"-csearch_path={schema} {options}".strip()})
    try:
        yield engine, schema
    finally:
        engine.dispose()
        with probe.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        probe.dispose()


@contextlib.contextmanager
def fresh_database(prefix: str) -> Iterator[str]:
    """The name of a new, empty database (dropped afterwards, open connections and all)."""
    try:
        admin = sa.create_engine(
            PG_ADMIN_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3}
        )
        with admin.connect() as conn:
            conn.execute(sa.text("select 1"))
    except (sa.exc.OperationalError, ImportError) as exc:
        reason = f"PostgreSQL not reachable at 127.0.0.1:5432: {getattr(exc, 'orig', None) or exc}"
        if os.environ.get("AGENTJOBS_REQUIRE_SERVICES") == "1":
            pytest.fail(reason + " (AGENTJOBS_REQUIRE_SERVICES=1)")
        pytest.skip(reason)
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield name
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextlib.contextmanager
def built_database(
    backend: str, sqlite_file: Path, prefix: str, build: Callable[[sa.Engine], None]
) -> Iterator[str]:
    """The SQLAlchemy URL of a database `build` has filled: a SQLite file (`backend` "sqlite") or
    a fresh PostgreSQL database of its own (`backend` "postgres", dropped afterwards)."""
    if backend == "sqlite":
        url = f"sqlite:///{sqlite_file}"
        engine = sa.create_engine(url)
        try:
            build(engine)
        finally:
            engine.dispose()
        yield url
        return
    with fresh_database(prefix) as name:
        url = f"postgresql+psycopg2://postgres@127.0.0.1:5432/{name}"
        engine = sa.create_engine(url)
        try:
            build(engine)
        finally:
            engine.dispose()
        yield url
