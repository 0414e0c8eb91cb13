"""The ground truth of a generated Ledgerly database: what was planted, per business kind, so the
kinds' tests can check what they report on a schema that is not the sample.

Written as JSON like the sample's truth (business/truth.py). Amounts are signed or positive
minor units of the named currency, as in the tables; days are the workspace's local days.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from agentjobs.atomic_file import write_atomically


class _Row(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WeeklyChange(_Row):
    """A category's net spend over a local week (Sunday..Saturday) of a workspace's accounts in one
    currency, vs the week before: spend is minus the sum of the signed amounts, so refunds lower it."""

    workspace_id: str
    currency: str
    category: str
    week_end: date
    previous_total_minor: int
    total_minor: int
    change_pct: float  # (total - previous) / previous * 100, one decimal


class DuplicateCharge(_Row):
    """A card payment booked twice: same account, counterparty, amount and local day, minutes apart."""

    workspace_id: str
    day: date
    original_id: str
    duplicate_id: str
    amount_minor: int  # signed, as booked (< 0)
    currency: str
    counterparty: str


class OrderVolumeDrop(_Row):
    workspace_id: str
    day: date
    orders: int  # shop_orders placed that local day, any state
    typical_orders: int  # the median (low) of the 28 local days before


class CleanDay(_Row):
    """A local day in the last 4 weeks with nothing planted for the workspace."""

    workspace_id: str
    day: date


class DocumentMatch(_Row):
    """The transaction an inbox document really belongs to, linked in document_links or not yet
    (recent ones, and ones whose OCR failed so no rule can match them)."""

    document_id: str
    transaction_id: str


class PaymentMatch(_Row):
    """How much of an incoming payment pays which invoice (a partial payment is one of several
    rows of an invoice), allocated in payment_allocations or not yet."""

    payment_id: str
    invoice_id: str
    amount_minor: int


class OpenInvoice(_Row):
    """An invoice whose status is 'open' at the end of the last day: issued, not void, and its
    allocations (payment_allocations) do not cover it, whether or not the money has come in."""

    workspace_id: str
    invoice_id: str
    number: str
    due_on: date
    currency: str
    total_minor: int  # the sum of its lines
    paid_minor: int  # what its allocations cover


class MonthlyTotal(_Row):
    """The signed sum of a category's transactions over a local calendar month, per account currency."""

    workspace_id: str
    month: date  # its first day
    currency: str
    category: str
    total_minor: int


class PersonalNote(_Row):
    """A customer whose free-text notes hold personal data the PII detector must find."""

    customer_id: str
    kinds: list[str]  # sorted: 'email', 'iban', 'phone'


class Truth(_Row):
    seed: int
    first_day: date
    last_day: date
    weekly_changes: list[WeeklyChange]
    duplicate_charges: list[DuplicateCharge]
    order_volume_drops: list[OrderVolumeDrop]
    clean_days: list[CleanDay]
    document_matches: list[DocumentMatch]
    payment_matches: list[PaymentMatch]
    open_invoices: list[OpenInvoice]
    monthly_totals: list[MonthlyTotal]
    customers_to_enrich: list[str]
    personal_notes: list[PersonalNote]

    def to_json(self) -> str:
        return self.model_dump_json(indent=2) + "\n"


def load_truth(path: Path) -> Truth:
    return Truth.model_validate_json(Path(path).read_text(encoding="utf-8"))


def write_truth(path: Path, truth: Truth) -> None:
    """Replace the truth file atomically: a killed run leaves the old one, never half of one."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    write_atomically(Path(path), truth.to_json())
