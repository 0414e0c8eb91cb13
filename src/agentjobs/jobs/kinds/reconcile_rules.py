"""The matching rules of `reconciliation`, in code: which transactions may be a receipt's, and
in which order they are offered.

A transaction is a candidate of a receipt only when all three rules hold:
- amount: within 0.5 % of the receipt's, in the same currency;
- date: its local day (the team's time zone) within 5 days of the receipt's `received_on`;
- name: the vendor names similar once legal forms, case and punctuation are set aside
  ("ACME Gmbh." and "Acme G.m.b.H." are one company; "Pixelworks" and "Cloudnine" are not).

The model only picks among candidates; every proposal is checked against `rule_failures`
again before anything is linked, so a model that names another transaction gets a refusal
that names the rule it broke, never a link.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from agentjobs.lazy_pattern import lazy

AMOUNT_TOLERANCE_PERMILLE = 5  # 0.5 %, compared in integers: 1000 * |a - b| <= 5 * amount
DATE_WINDOW_DAYS = 5
NAME_MIN_SIMILARITY = 0.85
TOP_CANDIDATES = 5
# Legal forms and their spellings: the generator (and real books) file one company under several.
LEGAL_WORDS = frozenset(
    "gmbh ag kg inc incorporated corp corporation co llc ltd limited pty plc kk kabushiki kaisha "
    "sa sarl bv".split()
)
_NOT_ALNUM = lazy(r"[^0-9a-z]+")


def name_key(name: str) -> str:
    """A vendor name without case, accents, punctuation, spaces or legal form ("G.m.b.H." → "")."""
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().casefold()
    # Dots inside abbreviations ("G.m.b.H.", "Pty. Ltd.") join their letters before splitting.
    words = _NOT_ALNUM.sub(" ", folded.replace(".", "")).split()
    kept = [w for w in words if w not in LEGAL_WORDS]
    return "".join(kept or words)


@lru_cache(maxsize=4096)
def name_similarity(a: str, b: str) -> float:
    """1.0 for the same company spelled two ways; well under NAME_MIN_SIMILARITY for two companies."""
    key_a, key_b = name_key(a), name_key(b)
    if not key_a or not key_b:
        return 0.0
    from difflib import SequenceMatcher  # at run time: a DAG parse imports this module, never compares

    return round(SequenceMatcher(None, key_a, key_b).ratio(), 4)


def local_day(occurred_at: str, timezone: str) -> date:
    """A transaction's stored UTC instant ("2026-11-28T06:04:28Z") as the team's local day."""
    moment = datetime.fromisoformat(str(occurred_at).replace("Z", "+00:00"))
    return moment.astimezone(ZoneInfo(timezone)).date()


@dataclass(frozen=True)
class Candidate:
    """A transaction that passes every rule for one receipt, with what ranks it."""

    transaction_id: str
    amount_cents: int
    day: date
    vendor_name: str
    amount_off_permille: float  # |difference| / receipt amount, in 1/1000
    days_off: int
    similarity: float
    score: float  # 0..1: exact amount, same day and same name score 1

    def as_tool_row(self) -> dict[str, Any]:
        return {
            "id": self.transaction_id,
            "amount_cents": self.amount_cents,
            "day": self.day.isoformat(),
            "vendor": self.vendor_name,
            "amount_off_pct": round(self.amount_off_permille / 10, 3),
            "days_off": self.days_off,
            "name_similarity": self.similarity,
            "score": self.score,
        }


def rule_failures(
    receipt: dict[str, Any], txn: dict[str, Any], timezone: str, *, all_rules: bool = True
) -> list[str]:
    """The rules `txn` breaks as a match of `receipt` (empty: it may be linked), each naming its
    limit; with `all_rules` False only the first one (the cheap rules come first: most of a
    team's transactions fail on the amount, and the name is compared last)."""
    failed: list[str] = []
    if receipt.get("amount_cents") is None or txn.get("amount_cents") is None:
        # NULL where OCR or an import failed: nothing to compare; the receipt waits, unjudged.
        which = "receipt's" if receipt.get("amount_cents") is None else "transaction's"
        failed.append(f"amount: the {which} amount is unknown")
    elif receipt.get("currency") != txn.get("currency"):
        failed.append(f"currency: {txn.get('currency')} is not the receipt's {receipt.get('currency')}")
    elif not _within_tolerance(int(receipt["amount_cents"]), int(txn["amount_cents"])):
        # Signed amounts (a refund and its credit note) compare by size, and only with the same sign.
        amount, other = int(receipt["amount_cents"]), int(txn["amount_cents"])
        failed.append(f"amount: {other} is not within 0.5 % of the receipt's {amount}")
    if failed and not all_rules:
        return failed
    if receipt.get("received_on") is None:
        failed.append("date: the receipt has no date")
        return failed
    received = date.fromisoformat(str(receipt["received_on"])[:10])
    days_off = abs((local_day(txn["occurred_at"], timezone) - received).days)
    if days_off > DATE_WINDOW_DAYS:
        failed.append(f"date: {days_off} days from the receipt's {received}, more than {DATE_WINDOW_DAYS}")
    if failed and not all_rules:
        return failed
    similarity = name_similarity(str(receipt.get("vendor_name") or ""), str(txn.get("vendor_name") or ""))
    if similarity < NAME_MIN_SIMILARITY:
        failed.append(
            f"name: vendor {txn.get('vendor_name')!r} is {similarity:.2f} similar to the receipt's "
            f"{receipt.get('vendor_name')!r}, under {NAME_MIN_SIMILARITY}"
        )
    return failed


def _within_tolerance(amount: int, other: int) -> bool:
    """Whether `other` is within the amount rule of `amount`, in exact integers (the limit passes)."""
    if other == amount:
        return True
    if amount == 0 or (amount < 0) != (other < 0):
        return False
    return 1000 * abs(other - amount) <= AMOUNT_TOLERANCE_PERMILLE * abs(amount)


def _off_permille(amount: int, other: int) -> float:
    """How far `other` is from `amount`, in permille of the amount's size: 0 for equal amounts
    (zero included), infinite for a zero amount against another, or for the other sign."""
    if other == amount:
        return 0.0
    if amount == 0 or (amount < 0) != (other < 0):
        return float("inf")
    return 1000 * abs(other - amount) / abs(amount)


def amount_score(off_permille: float) -> float:
    """1 for the amount to the cent; at most half of that for any other amount within the rule:
    a receipt states what was paid, so an exact amount outweighs any closeness of day or name."""
    return 1.0 if off_permille == 0 else 0.5 * (1 - off_permille / AMOUNT_TOLERANCE_PERMILLE)


def date_score(days_after: int) -> float:
    """A receipt comes with the payment or a few days after it; one dated before its payment, or
    long after, is less likely the payment's (`days_after`: receipt day minus transaction day)."""
    if 0 <= days_after <= 3:
        return 1.0 - 0.1 * days_after
    if days_after > 3:
        return 0.5 - 0.1 * (days_after - 4)
    return 0.4 + 0.1 * days_after  # before the payment: -1 → 0.3, -4 → 0.0


def candidate(receipt: dict[str, Any], txn: dict[str, Any], timezone: str) -> Candidate | None:
    """`txn` as a ranked candidate of `receipt`, or None when a rule fails (`rule_failures` says which)."""
    if rule_failures(receipt, txn, timezone, all_rules=False):
        return None
    off = _off_permille(int(receipt["amount_cents"]), int(txn["amount_cents"]))
    day = local_day(txn["occurred_at"], timezone)
    received = date.fromisoformat(str(receipt["received_on"])[:10])
    days_off = abs((day - received).days)
    similarity = name_similarity(str(receipt.get("vendor_name") or ""), str(txn.get("vendor_name") or ""))
    score = (
        0.6 * amount_score(off)
        + 0.25 * date_score((received - day).days)
        + 0.15 * ((similarity - NAME_MIN_SIMILARITY) / (1 - NAME_MIN_SIMILARITY))
    )
    return Candidate(
        transaction_id=str(txn["id"]),
        amount_cents=int(txn["amount_cents"]),
        day=day,
        vendor_name=str(txn.get("vendor_name") or ""),
        amount_off_permille=off,
        days_off=days_off,
        similarity=similarity,
        score=round(score, 4),
    )


def find_candidates(
    receipt: dict[str, Any], transactions: list[dict[str, Any]], timezone: str, top: int = TOP_CANDIDATES
) -> list[Candidate]:
    """The `top` transactions passing every rule, best score first; on a tie the earlier one (of
    a charge booked twice, the receipt is the first charge's: the second is the duplicate)."""
    found = [c for t in transactions if (c := candidate(receipt, t, timezone)) is not None]
    by_id = {str(t["id"]): str(t["occurred_at"]) for t in transactions}
    found.sort(key=lambda c: (-c.score, by_id[c.transaction_id], c.transaction_id))
    return found[:top]


def link_blocker(chosen: Candidate, rivals: list[Candidate]) -> str | None:
    """Why code will not link `chosen` on its own, however sure the model is (None: it may).

    The rules say what may match; a link needs more: the amount to the cent, and no other
    candidate with that amount too (a charge booked twice, a monthly fee in the window). Such a
    proposal goes to review: a person tells the two apart, the model's confidence cannot."""
    if chosen.amount_off_permille:
        return f"the amount is {chosen.amount_off_permille / 10:.2f} % off, not exact"
    same = [
        c.transaction_id
        for c in rivals
        if c.transaction_id != chosen.transaction_id and not c.amount_off_permille
    ]
    if same:
        return f"{', '.join(same)} has the same amount"
    return None
