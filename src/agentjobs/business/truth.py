"""The ground truth of a generated sample database: what was planted, so tests and evals can
check what the jobs report. Written as `<db stem>.truth.json` next to the database."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from pydantic import BaseModel, ConfigDict


class _Row(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WeeklyChange(_Row):
    """One category's total over a team's local week (7 days ending on a Saturday) vs the week before."""

    team_id: str
    category: str
    week_end: date  # the last local day of the week
    previous_total_cents: int
    total_cents: int
    change_pct: float  # (total - previous) / previous * 100, one decimal


class DuplicateCharge(_Row):
    """An expense charged twice: same team, vendor, amount and local day, minutes apart."""

    team_id: str
    day: date  # local day of the team
    original_id: str
    duplicate_id: str
    amount_cents: int
    vendor_id: str


class OrderVolumeDrop(_Row):
    team_id: str
    day: date  # local day of the team
    orders: int  # rows of `orders` placed that local day, any status
    typical_orders: int  # the median (low) of the 28 local days before


class CleanDay(_Row):
    """A local day of a team within the last 4 weeks with nothing planted (no duplicate charge, no
    order drop, not in a week with a planted weekly change of that team)."""

    team_id: str
    day: date


class ReceiptMatch(_Row):
    """The transaction a receipt really belongs to, whether or not `receipts.transaction_id` says so
    yet (recent receipts are unlinked; some name a near-duplicate vendor)."""

    receipt_id: str
    transaction_id: str


class Truth(_Row):
    seed: int
    first_day: date
    last_day: date
    weekly_changes: list[WeeklyChange]
    duplicate_charges: list[DuplicateCharge]
    order_volume_drops: list[OrderVolumeDrop]
    clean_days: list[CleanDay]
    receipt_matches: list[ReceiptMatch]

    def to_json(self) -> str:
        return self.model_dump_json(indent=2) + "\n"


def truth_path(db_path: Path) -> Path:
    """`business.db` -> `business.truth.json`, beside the database."""
    return db_path.with_name(f"{db_path.stem}.truth.json")


def load_truth(db_path: Path) -> Truth:
    return Truth.model_validate_json(truth_path(db_path).read_text(encoding="utf-8"))
