"""The enrichment's one database write: each record once, only enrichment columns, all or nothing;
on a SQLite file and in PostgreSQL."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from agentjobs.jobs.kinds.base import CheckFailed
from agentjobs.jobs.kinds.enrichment import KIND, lookup_url
from tests.jobs.kinds.test_enrichment import customers, enrichment_db, settings_for, snapshot_of

__all__ = ["enrichment_db"]  # the fixture, shared with test_enrichment.py


def test_the_database_write_is_once_per_record_and_only_enrichment_columns(enrichment_db, company_directory):
    engine = sa.create_engine(enrichment_db)
    settings = settings_for(company_directory)
    snapshot = snapshot_of(engine, settings)
    source = lookup_url(settings, "Globex GmbH")
    update = {"customer_id": "c-good", "fields": {"industry": "Manufacturing"}, "source": source}
    first = {"path": "enrichment.md", "items": 1, "refused": [], "updates": [update]}
    assert KIND.apply(snapshot, first, settings, engine) == {"enriched": ["c-good"], "already_enriched": []}
    written = customers(engine)["c-good"]
    assert written["industry"] == "Manufacturing" and written["enrichment_source"] == source
    assert written["enriched_at"] is not None

    # A retry, clear or backfill with other values (the same snapshot) changes nothing.
    again = {**first, "updates": [{**first["updates"][0], "fields": {"industry": "Changed"}}]}
    assert KIND.apply(snapshot, again, settings, engine) == {"enriched": [], "already_enriched": ["c-good"]}
    assert customers(engine)["c-good"] == written

    # A result naming another column, another customer or another source is not written at all.
    for bad in (
        {"customer_id": "c-html", "fields": {"name": "Evil"}, "source": lookup_url(settings, "Soylent Corp")},
        {"customer_id": "c-done", "fields": {"industry": "New"}, "source": source},
        {"customer_id": "c-html", "fields": {"industry": "X"}, "source": "https://elsewhere.example/x"},
    ):
        with pytest.raises(CheckFailed):
            KIND.apply(snapshot, {**first, "updates": [bad]}, settings, engine)
    after = customers(engine)
    assert after["c-html"]["name"] == "Soylent Corp" and after["c-html"]["industry"] is None
    assert after["c-done"]["industry"] == "Old"


def test_one_bad_update_writes_nothing_of_the_run(enrichment_db, company_directory):
    engine = sa.create_engine(enrichment_db)
    settings = settings_for(company_directory)
    snapshot = snapshot_of(engine, settings)
    good = {
        "customer_id": "c-good",
        "fields": {"industry": "Manufacturing"},
        "source": lookup_url(settings, "Globex GmbH"),
    }
    bad = {
        "customer_id": "c-html",
        "fields": {"team_id": "team-y"},
        "source": lookup_url(settings, "Soylent Corp"),
    }
    with pytest.raises(CheckFailed, match="'team_id' is not an enrichment column"):
        KIND.apply(snapshot, {"updates": [good, bad]}, settings, engine)
    assert all(row["enriched_at"] is None for cid, row in customers(engine).items() if cid != "c-done")
