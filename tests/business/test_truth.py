"""The ground truth file of a sample database: beside the database, read back as written, and
refused when it holds what this version does not know (rather than silently dropping it)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pydantic
import pytest

from agentjobs.business.truth import CleanDay, DuplicateCharge, Truth, WeeklyChange, load_truth, truth_path


def small_truth() -> Truth:
    return Truth(
        seed=3,
        first_day=date(2026, 1, 4),
        last_day=date(2026, 1, 31),
        weekly_changes=[
            WeeklyChange(
                team_id="t1",
                category="travel",
                week_end=date(2026, 1, 31),
                previous_total_cents=10_000,
                total_cents=25_000,
                change_pct=150.0,
            )
        ],
        duplicate_charges=[
            DuplicateCharge(
                team_id="t1",
                day=date(2026, 1, 20),
                original_id="x1",
                duplicate_id="x2",
                amount_cents=4_999,
                vendor_id="v1",
            )
        ],
        order_volume_drops=[],
        clean_days=[CleanDay(team_id="t1", day=date(2026, 1, 21))],
        receipt_matches=[],
    )


@pytest.mark.parametrize(
    ("db", "truth"),
    [
        ("business.db", "business.truth.json"),
        ("q3.sample.sqlite", "q3.sample.truth.json"),
        ("plain", "plain.truth.json"),
    ],
)
def test_the_truth_file_sits_beside_the_database_named_after_its_stem(tmp_path, db, truth):
    assert truth_path(tmp_path / "data" / db) == tmp_path / "data" / truth


def test_a_truth_written_as_json_is_read_back_the_same(tmp_path: Path):
    truth = small_truth()
    db = tmp_path / "business.db"
    truth_path(db).write_text(truth.to_json(), encoding="utf-8")
    assert load_truth(db) == truth
    assert truth.to_json().endswith("}\n") and '"week_end": "2026-01-31"' in truth.to_json()


def test_a_truth_with_an_unknown_or_missing_field_is_refused_naming_it(tmp_path: Path):
    db = tmp_path / "business.db"
    text = small_truth().to_json().replace('"clean_days"', '"clean_dayz"')
    truth_path(db).write_text(text, encoding="utf-8")
    with pytest.raises(pydantic.ValidationError) as err:
        load_truth(db)
    assert "clean_dayz" in str(err.value) and "clean_days" in str(err.value)


def test_a_missing_truth_file_names_the_path_it_looked_for(tmp_path: Path):
    with pytest.raises(FileNotFoundError, match=r"business\.truth\.json"):
        load_truth(tmp_path / "business.db")
