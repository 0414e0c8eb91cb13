"""The Ledgerly specs (src/agentjobs/business/ledgerly/jobs/) on a Ledgerly database of a test's
own: the generated rows loaded into a schema named for the test, and each spec read as a user whose
tables live in that schema would edit it (the schema names in its SQL, agentjobs' own schema)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

LEDGERLY_JOBS = Path(__file__).resolve().parents[3] / "src" / "agentjobs" / "business" / "ledgerly" / "jobs"


def ledgerly_spec(file: str, schema: str, own: str, **update: Any) -> Any:
    """The Ledgerly spec of `file` with its tables in `schema` and agentjobs' own tables in `own`."""
    from agentjobs.agent.unique_yaml import load_unique
    from agentjobs.jobs.spec import JobSpec

    text = (LEDGERLY_JOBS / file).read_text(encoding="utf-8")
    text = text.replace("ledgerly.", f"{schema}.").replace(
        "agentjobs.processed_records", f"{own}.processed_records"
    )
    data = load_unique(text)
    data["sources"]["sql"]["own_schema"] = own
    data.update(update)
    return JobSpec.model_validate(data)


@pytest.fixture
def ledgerly_db(ledgerly: tuple[Any, Any]) -> Iterator[tuple[sa.Engine, str, str]]:
    """(engine, schema, own schema): the session's generated Ledgerly loaded into a schema of this
    test's own (it writes to it); both schemas dropped afterwards. The engine's session time zone
    is far from every workspace's, so nothing may lean on it."""
    from agentjobs.business.ledgerly.load import load
    from tests.business.fixtures import PG_URL

    engine = sa.create_engine(PG_URL, connect_args={"options": "-ctimezone=America/Caracas"})
    try:
        with engine.connect():
            pass
    except sa.exc.OperationalError as exc:
        engine.dispose()
        pytest.skip(f"PostgreSQL at 127.0.0.1:5432 (db test, user postgres) is unreachable: {exc.orig}")
    suffix = uuid.uuid4().hex[:10]
    schema, own = f"ledgerly_{suffix}", f"agentjobs_{suffix}"
    load(engine, ledgerly[0], schema)
    try:
        yield engine, schema, own
    finally:
        with engine.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{own}" CASCADE')
        engine.dispose()
