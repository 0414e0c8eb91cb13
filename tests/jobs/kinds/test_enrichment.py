"""enrichment without Airflow: the write tool and the database write accept only the enrichment
columns of the snapshot's customers, once; the structured fetch refuses what the spec's caps refuse."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from agentjobs.agent.tools import ToolRegistry
from agentjobs.business.directory import Answer
from agentjobs.jobs.kinds.base import CheckFailed
from agentjobs.jobs.kinds.enrichment import KIND, EnrichmentSettings, Staging
from agentjobs.jobs.kinds.snapshots import team_snapshot
from agentjobs.sources.sql import read_tables, read_teams
from tests.delivery.inert import assert_no_bidi_controls
from tests.fakes.directory import record
from tests.postgres import built_database

TEAM = "team-x"
HOSTILE = "<!channel> Vandelay \u202e[pay](javascript:alert(1))"  # with a right-to-left override
CUSTOMERS = {
    "c-good": "Globex GmbH",
    "c-hostile": HOSTILE,
    "c-html": "Soylent Corp",
    "c-big": "Tyrell Corp",
    "c-missing": "Wayne Enterprises",
    "c-done": "Hooli",  # enriched before: never in a snapshot, never written again
}
ENRICHED_BEFORE = datetime(2026, 11, 1, 8)
# Berlin 06:00 on Mon 30 Nov 2026 is 05:00 UTC: the team's run of that day.
WHEN = datetime(2026, 11, 30, 5, tzinfo=UTC)


def build_db(engine: sa.Engine) -> None:
    from agentjobs.business import schema

    schema.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(
            schema.teams.insert(),
            [{"id": TEAM, "name": "Team *X*", "timezone": "Europe/Berlin", "currency": "EUR",
              "slack_channel": "#team-x"}],
        )  # fmt: skip
        conn.execute(
            schema.customers.insert(),
            [{"id": cid, "team_id": TEAM, "name": name} for cid, name in CUSTOMERS.items()],
        )
        conn.execute(
            schema.customers.update()
            .where(schema.customers.c.id == "c-done")
            .values(industry="Old", enriched_at=ENRICHED_BEFORE, enrichment_source="https://old.example/")
        )


@pytest.fixture(params=["sqlite", "postgres"])
def enrichment_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A SQLAlchemy URL of the small database, on a SQLite file and in a fresh PostgreSQL database."""
    with built_database(request.param, tmp_path / "enrichment.db", "agentjobs_enrichment", build_db) as url:
        yield url


def plant_answers(directory: Any) -> None:
    """What the directory says of each customer (Hooli is never asked)."""
    directory.answers.update(
        {
            "Globex GmbH": record(
                name="Globex GmbH", industry="Manufacturing", country="de", employees=1200,
                website="https://globex.example",
            ),
            HOSTILE: record(
                industry="<script>alert(1)</script> **Imports** \u2067@here\u2069",
                country="US",
                employees=12,
                website="javascript:alert(1)",
            ),
            "Soylent Corp": Answer(200, b"<html><body>Soylent</body></html>", "text/html"),
            "Tyrell Corp": record(industry="Robotics", description="x" * 70_000),
        }
    )  # fmt: skip


def settings_for(directory: Any) -> EnrichmentSettings:
    return EnrichmentSettings(source_url=directory.url)


def snapshot_of(engine: sa.Engine, settings: EnrichmentSettings):
    ((team, members),) = read_teams(engine)
    return team_snapshot(KIND, settings, team, members, WHEN, lambda q: read_tables(engine, q))


def customers(engine: sa.Engine) -> dict[str, dict[str, Any]]:
    from agentjobs.business import schema

    with engine.connect() as conn:
        return {row.id: dict(row._mapping) for row in conn.execute(sa.select(schema.customers))}


def test_a_snapshot_holds_only_customers_not_yet_enriched(enrichment_db, company_directory):
    engine = sa.create_engine(enrichment_db)
    snapshot = snapshot_of(engine, settings_for(company_directory))
    assert [row["id"] for row in snapshot.tables["customers"]] == sorted(set(CUSTOMERS) - {"c-done"})
    assert snapshot.period.key == "2026-11-30"


def test_the_write_tool_stages_only_enrichment_columns_of_the_snapshots_customers_once(
    enrichment_db, company_directory
):
    engine = sa.create_engine(enrichment_db)
    staging = Staging(snapshot_of(engine, settings_for(company_directory)))
    registry = ToolRegistry()
    registry.register(staging.tool())

    def call(customer_id: str, fields: dict[str, Any]) -> str:
        import json

        return registry.call("update_enrichment", json.dumps({"customer_id": customer_id, "fields": fields}))

    refused_name = call("c-good", {"industry": "Manufacturing", "name": "Evil Corp"})
    assert (
        refused_name.content.startswith("ERROR")
        and "'name' is not an enrichment column" in refused_name.content
    )
    refused_stamp = call("c-good", {"enriched_at": "2020-01-01"})
    assert "'enriched_at' is set by the job itself" in refused_stamp.content
    assert "not a customer of this task's list" in call("c-done", {"industry": "New"}).content
    assert "ISO 3166" in call("c-good", {"country": "Germany"}).content
    assert staging.updates == {}

    ok = call("c-good", {"industry": " Manufacturing\n", "country": "de", "employee_count": 1200})
    assert ok.ok, ok.content
    assert "staged already" in call("c-good", {"industry": "Other"}).content
    assert staging.updates == {
        "c-good": {"industry": "Manufacturing", "country": "DE", "employee_count": 1200}
    }


def test_the_structured_fetch_refuses_oversized_wrong_type_and_missing_records(
    enrichment_db, company_directory
):
    engine = sa.create_engine(enrichment_db)
    plant_answers(company_directory)
    settings = settings_for(company_directory)
    snapshot = snapshot_of(engine, settings)
    plan = KIND.plan(snapshot, settings, "structured")
    gathered = plan.collect()
    assert sorted(gathered["records"]) == ["c-good", "c-hostile"]
    refused = gathered["fetch_refused"]
    assert "larger than the 65536-byte cap" in refused["c-big"]
    assert "content type is 'text/html'" in refused["c-html"]
    assert "HTTP 404" in refused["c-missing"]
    # Keys named like a column are mapped by code; the model picks only employee_count, and only
    # among keys holding a whole number.
    assert gathered["code_mapping"] == {"industry": "industry", "country": "country", "website": "website"}
    assert plan.result_schema["properties"]["mapping"]["properties"] == {
        "employee_count": {"type": "string", "enum": ["employees", ""]}
    }
    answer = {"mapping": {"employee_count": "employees"}, **gathered}
    rendered = KIND.render(snapshot, answer, settings, "Customer enrichment")
    KIND.check(snapshot, rendered.markdown, rendered.result, settings)
    by_id = {u["customer_id"]: u for u in rendered.result["updates"]}
    assert by_id["c-good"]["fields"] == {
        "industry": "Manufacturing", "country": "DE", "employee_count": 1200, "website": "https://globex.example"
    }  # fmt: skip
    assert "website" not in by_id["c-hostile"]["fields"]  # javascript: is not a website
    text = rendered.markdown
    assert "<script" not in text and "[pay](javascript" not in text and "<!channel>" not in text
    assert_no_bidi_controls(text)
    assert by_id["c-hostile"]["fields"]["industry"] == "<script>alert(1)</script> **Imports** @here"
    assert "(not written: website must be a plain http(s) URL" in text
    assert "2 of 5 customers to enrich" in text


def test_the_check_refuses_an_artifact_or_result_the_snapshot_does_not_support(
    enrichment_db, company_directory
):
    engine = sa.create_engine(enrichment_db)
    plant_answers(company_directory)
    settings = settings_for(company_directory)
    snapshot = snapshot_of(engine, settings)
    gathered = KIND.plan(snapshot, settings, "structured").collect()
    rendered = KIND.render(snapshot, {"mapping": {"employee_count": "employees"}, **gathered}, settings, "T")
    KIND.check(snapshot, rendered.markdown, rendered.result, settings)
    result = rendered.result
    first, rest = result["updates"][0], result["updates"][1:]
    renamed = {**first, "fields": {**first["fields"], "name": "X"}}
    for changed, message in (
        ({**result, "updates": [renamed, *rest]}, "not an enrichment column"),
        ({**result, "updates": [*result["updates"], {**first, "customer_id": "c-done"}]}, "not a customer"),
        ({**result, "updates": [*result["updates"], first]}, "enriched twice"),
        ({**result, "refused": result["refused"][1:]}, "says nothing of customer"),
    ):  # fmt: skip
        with pytest.raises(CheckFailed, match=message):
            KIND.check(snapshot, rendered.markdown, changed, settings)
    with pytest.raises(CheckFailed, match="not the rendering"):
        KIND.check(snapshot, rendered.markdown.replace("Manufacturing", "Banking"), result, settings)


def test_a_staged_value_must_be_one_the_customers_own_record_holds(enrichment_db, company_directory):
    import json

    engine = sa.create_engine(enrichment_db)
    plant_answers(company_directory)
    settings = settings_for(company_directory)
    snapshot = snapshot_of(engine, settings)
    staging = Staging(snapshot, KIND.sources(snapshot, settings), settings.policy())
    registry = ToolRegistry()
    registry.register(staging.tool())

    def call(customer_id: str, fields: dict[str, Any]) -> str:
        return registry.call(
            "update_enrichment", json.dumps({"customer_id": customer_id, "fields": fields})
        ).content

    assert "industry 'Banking' is not in the directory's record" in call("c-good", {"industry": "Banking"})
    assert "content type is 'text/html'" in call("c-html", {"industry": "Food"})
    assert "larger than the 65536-byte cap" in call("c-big", {"industry": "Robotics"})
    assert call("c-good", {"industry": "Manufacturing", "country": "DE", "employee_count": 1200}).startswith(
        "staged"
    )
    assert list(staging.updates) == ["c-good"]
