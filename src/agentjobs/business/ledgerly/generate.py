"""A deterministic Ledgerly database with planted patterns and their ground truth.

`generate(seed, end)` returns the rows of every table (schema.py) and the truth of what was
planted (truth.py): 16 local weeks ending on the last Saturday <= `end`, plus the days up to
`end`, of four workspaces (EUR with a USD account, JPY, KWD with a EUR account, NZD).

As in the sample (business/generate.py), normal data is calm so that what a job detects is what
was planted: each category has a fixed daily cadence with +-4 % jitter per row, shop orders are
30 +- 3 a local day, no two card payments of an account share a local day and an amount unless
planted as a duplicate, and refunds give back at most a quarter of one office purchase.

Determinism: one `random.Random(seed)` consumed in a fixed order, no clock, no `hash()`, no
iteration over sets; ids are uuid5 of the seed and a name, so the same seed and end give the
same rows and a byte-identical truth in any process.
"""

from __future__ import annotations

import random
import statistics
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from agentjobs.business.ledgerly import schema
from agentjobs.business.ledgerly.profiles import (
    CADENCE,
    CONTACTS,
    CUSTOMERS,
    FOREIGN_CATEGORY,
    HOSTILE_CUSTOMERS,
    HOSTILE_NOTES,
    HOSTILE_REFERENCES,
    HOSTILE_SHARE,
    HOSTILE_VENDORS,
    INCOME,
    NOTES,
    PRE_ENRICHED,
    UNCATEGORISED,
    VENDORS,
    WORKSPACES,
    Workspace,
)
from agentjobs.business.ledgerly.truth import (
    CleanDay,
    DocumentMatch,
    DuplicateCharge,
    MonthlyTotal,
    OpenInvoice,
    OrderVolumeDrop,
    PaymentMatch,
    PersonalNote,
    Truth,
    WeeklyChange,
)

DEFAULT_END = date(2026, 11, 28)  # a Saturday
WEEKS = 16
ORDERS_PER_DAY = 30
ORDER_NOISE = 3
JITTER = 0.04
NAMESPACE = uuid.UUID("6c0d1a52-3f0e-4d59-9a43-1b7a0e5c2f10")

Rows = dict[str, list[dict[str, Any]]]

# Planted, as offsets before `end` (the anomaly job's "yesterday" is `end`).
WEEKLY_PLANTS: tuple[tuple[str, str, int, float, bool], ...] = (
    # workspace, category, weeks before the last full week, factor, step (stays) or that week only
    ("nordlicht-roesterei", "marketing", 0, 1.38, False),
    ("sakura-design", "contractors", 0, 1.30, False),
    ("gulf-freight", "office", 3, 1.25, True),
    ("kiwi-surf", "travel", 1, 1.35, False),
)
DUPLICATE_PLANTS: tuple[tuple[str, int], ...] = (
    ("nordlicht-roesterei", 0),
    ("gulf-freight", 0),
    ("sakura-design", 9),
    ("kiwi-surf", 30),
    ("nordlicht-roesterei", 61),
)
ORDER_DROP_PLANTS: tuple[tuple[str, int, int], ...] = (
    ("sakura-design", 0, 9),
    ("gulf-freight", 0, 11),
    ("nordlicht-roesterei", 12, 8),
    ("kiwi-surf", 40, 12),
)
CLEAN_DAYS_PER_WORKSPACE = 6


@dataclass
class _Txn:
    ws: _Ws
    account: int  # index into the workspace's accounts
    day: date
    booked_at: datetime
    amount: int
    type: str
    counterparty: str | None
    category: str | None
    reference: str | None
    refund_of: _Txn | None = None
    transfer_group: str | None = None
    id: str = ""


@dataclass
class _Ws:
    profile: Workspace
    tz: ZoneInfo
    id: str
    account_ids: list[str] = field(default_factory=list)
    member_ids: list[str] = field(default_factory=list)
    customers: list[tuple[str, str, str]] = field(default_factory=list)  # id, name, contact
    hostile_customers: list[tuple[str, str, str]] = field(default_factory=list)
    txns: list[_Txn] = field(default_factory=list)

    def currency(self, account: int) -> str:
        return self.profile.accounts[account].currency


def last_saturday(day: date) -> date:
    return day - timedelta(days=(day.weekday() - 5) % 7)


def _at(day: date, at: time, tz: ZoneInfo) -> datetime:
    """A local wall time as an aware UTC instant (what a timestamptz column returns)."""
    return datetime.combine(day, at, tzinfo=tz).astimezone(UTC)


def _business_time(rng: random.Random, day: date, tz: ZoneInfo) -> datetime:
    # 08:00-19:00 local never falls in a DST gap or fold.
    seconds = rng.randrange(8 * 3600, 19 * 3600)
    return _at(day, time(seconds // 3600, seconds % 3600 // 60, seconds % 60), tz)


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def _next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


class _Generator:
    def __init__(self, seed: int, end: date) -> None:
        self.rng = random.Random(seed)
        self.seed = seed
        self.end = end
        self.week_end = last_saturday(end)
        self.first_day = self.week_end - timedelta(days=7 * WEEKS - 1)
        self.days = _days(self.first_day, end)
        self.rows: Rows = {t.name: [] for t in schema.TABLES}
        self.events: list[tuple[datetime, str, str, str, str]] = []  # at, ws, action, type, subject
        self.workspaces = [_Ws(p, ZoneInfo(p.timezone), self._uid("workspace", p.slug)) for p in WORKSPACES]
        self.duplicates: list[tuple[_Txn, _Txn]] = []
        self._personal_notes: list[PersonalNote] = []

    def _uid(self, *parts: object) -> str:
        return str(uuid.uuid5(NAMESPACE, "|".join([str(self.seed), *map(str, parts)])))

    def run(self) -> Truth:
        for ws in self.workspaces:
            self._directory(ws)
        for ws in self.workspaces:
            self._card_payments(ws)
            self._transfers_and_fees(ws)
        self._plant_duplicates()
        for ws in self.workspaces:
            self._refunds(ws)
            self._finish_transactions(ws)
        drops = [d for ws in self.workspaces for d in self._orders(ws)]
        payments: list[PaymentMatch] = []
        open_invoices: list[OpenInvoice] = []
        documents: list[DocumentMatch] = []
        for ws in self.workspaces:
            open_invoices += self._invoices(ws, payments)
            documents += self._documents(ws)
        self._flush_events()
        return Truth(
            seed=self.seed,
            first_day=self.first_day,
            last_day=self.end,
            weekly_changes=[self._weekly_change(*plant) for plant in WEEKLY_PLANTS],
            duplicate_charges=[self._duplicate_truth(o, d) for o, d in self.duplicates],
            order_volume_drops=drops,
            clean_days=self._clean_days(),
            document_matches=documents,
            payment_matches=payments,
            open_invoices=open_invoices,
            monthly_totals=self._monthly_totals(),
            customers_to_enrich=sorted(
                c[0] for ws in self.workspaces for c in ws.customers[PRE_ENRICHED:] + ws.hostile_customers
            ),
            personal_notes=self._personal_notes,
        )

    # --- workspaces, members, accounts, customers -----------------------------------------
    def _directory(self, ws: _Ws) -> None:
        p, created = ws.profile, _at(self.first_day - timedelta(days=400), time(9), ws.tz)
        self.rows["workspaces"].append(
            {
                "id": ws.id,
                "slug": p.slug,
                "display_name": p.display_name,
                "timezone": p.timezone,
                "base_currency": p.currency,
                "billing_email": p.billing_email,
                "created_at": created,
            }
        )
        for i, m in enumerate(p.members):
            member_id = self._uid("member", p.slug, i)
            ws.member_ids.append(member_id)
            self.rows["workspace_members"].append(
                {
                    "id": member_id,
                    "workspace_id": ws.id,
                    "display_name": m.name,
                    "email": m.email,
                    "timezone": m.timezone,
                    "role": m.role,
                    "joined_at": created + timedelta(days=30 * i),
                }
            )
        for i, a in enumerate(p.accounts):
            account_id = self._uid("account", p.slug, i)
            ws.account_ids.append(account_id)
            self.rows["bank_accounts"].append(
                {
                    "id": account_id,
                    "workspace_id": ws.id,
                    "name": a.name,
                    "iban": a.iban,
                    "currency": a.currency,
                    "opened_on": self.first_day - timedelta(days=365 - 40 * i),
                }
            )
        names = [(t, False) for t in CUSTOMERS] + [(t, True) for t in HOSTILE_CUSTOMERS]
        for i, (template, hostile) in enumerate(names):
            customer_id = self._uid("customer", p.slug, i)
            name = template.format(*p.legal)
            contact = CONTACTS[i % len(CONTACTS)]
            email = f"{contact.split()[0].lower()}@{name.split()[0].lower()}.example"
            if hostile:
                # Two hostile notes per workspace, so the four workspaces hold all of them.
                turn = 2 * self.workspaces.index(ws) + i - len(CUSTOMERS)
                notes, kinds = HOSTILE_NOTES[turn % len(HOSTILE_NOTES)], ()
            else:
                template_note, kinds = NOTES[i % len(NOTES)]
                notes = template_note.format(contact=contact, contact_email=email) if template_note else None
            if kinds:
                self._personal_notes.append(PersonalNote(customer_id=customer_id, kinds=sorted(kinds)))
            (ws.hostile_customers if hostile else ws.customers).append((customer_id, name, contact))
            self.rows["customers"].append(
                {
                    "id": customer_id,
                    "workspace_id": ws.id,
                    "name": name,
                    "contact_name": contact if i % 4 != 3 else None,
                    "email": email if i % 3 != 2 else None,
                    "phone": f"+{40 + i} {1000000 + 7919 * i}" if i % 2 == 0 else None,
                    "iban": f"DE{10 + i}500105170000{i:06d}" if i % 5 == 1 else None,
                    "notes": notes,
                    "created_at": created + timedelta(days=i),
                }
            )
            if not hostile and i < PRE_ENRICHED:
                self.rows["customer_facts"].append(
                    {
                        "customer_id": customer_id,
                        "industry": "Manufacturing",
                        "country": "DE",
                        "employee_count": 100 + i,
                        "website": f"https://{name.split()[0].lower()}.example",
                        "source_url": f"https://directory.example/companies/{name.split()[0].lower()}",
                        "fetched_at": created + timedelta(days=60),
                    }
                )

    def _customer(self, ws: _Ws) -> tuple[str, str, str]:
        if self.rng.random() < HOSTILE_SHARE:
            return self.rng.choice(ws.hostile_customers)
        return self.rng.choice(ws.customers)

    def _vendor(self, ws: _Ws, category: str) -> str:
        if category in HOSTILE_VENDORS and self.rng.random() < HOSTILE_SHARE:
            return HOSTILE_VENDORS[category].format(*ws.profile.legal)
        options = VENDORS[category]
        chosen = options[0] if self.rng.random() < 0.6 else self.rng.choice(options)
        return chosen.format(*ws.profile.legal)

    # --- transactions ---------------------------------------------------------------------
    def _factor(self, slug: str, category: str, day: date) -> float:
        for plant_ws, plant_category, weeks_before, factor, step in WEEKLY_PLANTS:
            if (plant_ws, plant_category) != (slug, category):
                continue
            week_end = self.week_end - timedelta(days=7 * weeks_before)
            if week_end - timedelta(days=6) <= day and (step or day <= week_end):
                return factor
        return 1.0

    def _card_payments(self, ws: _Ws) -> None:
        p, rng = ws.profile, self.rng
        plan = [(0, category) for category in CADENCE]
        if len(p.accounts) > 2:
            plan.append((2, FOREIGN_CATEGORY))
        for day in self.days:
            taken: dict[int, set[int]] = defaultdict(set)  # amounts used this day, per account
            for account, category in plan:
                count, base, items = CADENCE[category]
                if account != 0:
                    count = 1
                rate = p.accounts[account].minor_per_eur_cent
                scale = base * rate * p.size * self._factor(p.slug, category, day)
                for _ in range(count):
                    amount = round(scale * rng.uniform(1 - JITTER, 1 + JITTER))
                    while amount in taken[account]:  # no accidental same-day duplicates
                        amount += 1
                    taken[account].add(amount)
                    item = rng.choice(items)
                    if category in INCOME:
                        counterparty = self._customer(ws)[1]
                        kind, signed = "incoming", amount
                    else:
                        counterparty = self._vendor(ws, category)
                        kind, signed = rng.choice(("card_payment", "card_payment", "direct_debit")), -amount
                    reference = item
                    if rng.random() < 0.001:
                        reference = rng.choice(HOSTILE_REFERENCES).format(item)
                    booked = _business_time(rng, day, ws.tz)
                    ws.txns.append(
                        _Txn(ws, account, day, booked, signed, kind, counterparty, category, reference)
                    )
            if rng.random() < 0.15:  # a purchase nobody has categorised yet
                amount = -round(rng.randint(300, 2500) * p.accounts[0].minor_per_eur_cent)
                while -amount in taken[0]:
                    amount -= 1
                taken[0].add(-amount)
                booked = _business_time(rng, day, ws.tz)
                who = rng.choice(UNCATEGORISED)
                ws.txns.append(_Txn(ws, 0, day, booked, amount, "card_payment", who, None, None))

    def _transfers_and_fees(self, ws: _Ws) -> None:
        p, rng = ws.profile, self.rng
        month = date(self.first_day.year, self.first_day.month, 1)
        while month <= self.end:
            for account, a in enumerate(p.accounts):
                day = month
                if self.first_day <= day <= self.end:  # the bank's monthly fee, uncategorised
                    fee = -round(900 * a.minor_per_eur_cent)
                    ws.txns.append(
                        _Txn(
                            ws, account, day, _at(day, time(6), ws.tz), fee, "fee", None, None, "Account fee"
                        )
                    )
            legs = [(15, 0, 1, 500000)]  # to the reserve, and in another currency where there is one
            if len(p.accounts) > 2:
                legs.append((20, 0, 2, 100000))
            for day_of_month, source, target, base in legs:
                day = month.replace(day=day_of_month)
                if not self.first_day <= day <= self.end:
                    continue
                group = self._uid("transfer", p.slug, day, target)
                at = _at(day, time(10), ws.tz)
                out_amount = round(base * p.accounts[source].minor_per_eur_cent * p.size)
                fx = (
                    rng.uniform(0.98, 1.02)
                    if p.accounts[source].currency != p.accounts[target].currency
                    else 1.0
                )
                in_amount = round(base * p.accounts[target].minor_per_eur_cent * p.size * fx)
                for account, amount, other in ((source, -out_amount, target), (target, in_amount, source)):
                    name = p.accounts[other].name
                    ws.txns.append(
                        _Txn(
                            ws,
                            account,
                            day,
                            at,
                            amount,
                            "transfer",
                            name,
                            None,
                            f"Transfer {name}",
                            None,
                            group,
                        )
                    )
            month = _next_month(month)

    def _plant_duplicates(self) -> None:
        by_slug = {ws.profile.slug: ws for ws in self.workspaces}
        for slug, days_before in DUPLICATE_PLANTS:
            ws = by_slug[slug]
            day = self.end - timedelta(days=days_before)
            candidates = [t for t in ws.txns if t.day == day and t.category == "software" and t.account == 0]
            original = self.rng.choice(candidates)
            later = original.booked_at + timedelta(
                minutes=self.rng.randint(2, 40), seconds=self.rng.randint(0, 59)
            )
            duplicate = _Txn(**{**original.__dict__, "booked_at": later, "id": ""})
            ws.txns.append(duplicate)
            self.duplicates.append((original, duplicate))

    def _refunds(self, ws: _Ws) -> None:
        rng = self.rng
        for txn in list(ws.txns):
            if txn.category != "office" or txn.account != 0 or rng.random() >= 0.04:
                continue
            day = txn.day + timedelta(days=rng.randint(1, 5))
            if day > self.end:
                continue
            amount = round(-txn.amount * rng.uniform(0.1, 0.25))
            reference = f"Refund {txn.reference}"
            ws.txns.append(
                _Txn(
                    ws,
                    0,
                    day,
                    _business_time(rng, day, ws.tz),
                    amount,
                    "refund",
                    txn.counterparty,
                    "office",
                    reference,
                    txn,
                )
            )

    def _finish_transactions(self, ws: _Ws) -> None:
        ws.txns.sort(key=lambda t: (t.booked_at, t.account, t.amount))
        for i, txn in enumerate(ws.txns):
            txn.id = self._uid("transaction", ws.profile.slug, i)
        for txn in ws.txns:
            self.rows["transactions"].append(
                {
                    "id": txn.id,
                    "account_id": ws.account_ids[txn.account],
                    "booked_at": txn.booked_at,
                    "value_date": txn.day,
                    "amount_minor": txn.amount,
                    "currency": ws.currency(txn.account),
                    "type": txn.type,
                    "counterparty": txn.counterparty,
                    "category": txn.category,
                    "reference": txn.reference,
                    "refund_of": txn.refund_of.id if txn.refund_of else None,
                    "transfer_group": txn.transfer_group,
                }
            )
            imported = txn.booked_at + timedelta(seconds=self.rng.randint(1, 90))
            self.events.append((imported, ws.id, "transaction.imported", "transaction", txn.id))

    def _duplicate_truth(self, original: _Txn, duplicate: _Txn) -> DuplicateCharge:
        assert original.counterparty is not None
        return DuplicateCharge(
            workspace_id=original.ws.id,
            day=original.day,
            original_id=original.id,
            duplicate_id=duplicate.id,
            amount_minor=original.amount,
            currency=original.ws.currency(original.account),
            counterparty=original.counterparty,
        )

    def _spend(self, ws: _Ws, currency: str, category: str, first: date, last: date) -> int:
        return -sum(
            t.amount
            for t in ws.txns
            if t.category == category and ws.currency(t.account) == currency and first <= t.day <= last
        )

    def _weekly_change(
        self, slug: str, category: str, weeks_before: int, _f: float, _s: bool
    ) -> WeeklyChange:
        ws = next(w for w in self.workspaces if w.profile.slug == slug)
        week_end = self.week_end - timedelta(days=7 * weeks_before)
        currency = ws.profile.currency
        previous = self._spend(
            ws, currency, category, week_end - timedelta(days=13), week_end - timedelta(days=7)
        )
        current = self._spend(ws, currency, category, week_end - timedelta(days=6), week_end)
        return WeeklyChange(
            workspace_id=ws.id,
            currency=currency,
            category=category,
            week_end=week_end,
            previous_total_minor=previous,
            total_minor=current,
            change_pct=round((current - previous) / previous * 100, 1),
        )

    def _monthly_totals(self) -> list[MonthlyTotal]:
        totals = []
        month = _next_month(date(self.first_day.year, self.first_day.month, 1))
        while _next_month(month) - timedelta(days=1) <= self.end:  # the months wholly covered
            last = _next_month(month) - timedelta(days=1)
            for ws in self.workspaces:
                sums: dict[tuple[str, str], int] = defaultdict(int)
                for t in ws.txns:
                    if t.category is not None and month <= t.day <= last:
                        sums[ws.currency(t.account), t.category] += t.amount
                for (currency, category), total in sorted(sums.items()):
                    totals.append(
                        MonthlyTotal(
                            workspace_id=ws.id,
                            month=month,
                            currency=currency,
                            category=category,
                            total_minor=total,
                        )
                    )
            month = _next_month(month)
        return totals

    # --- shop orders ----------------------------------------------------------------------
    def _orders(self, ws: _Ws) -> list[OrderVolumeDrop]:
        p, rng = ws.profile, self.rng
        drops = {self.end - timedelta(days=b): n for s, b, n in ORDER_DROP_PLANTS if s == p.slug}
        placed: list[tuple[datetime, str | None, int, str]] = []
        counts: list[int] = []
        truth = []
        for day in self.days:
            n = drops.get(day, ORDERS_PER_DAY + rng.randint(-ORDER_NOISE, ORDER_NOISE))
            if day in drops:
                typical = statistics.median_low(counts[-28:])
                truth.append(OrderVolumeDrop(workspace_id=ws.id, day=day, orders=n, typical_orders=typical))
            counts.append(n)
            start = _at(day, time(0), ws.tz)
            length = int((_at(day + timedelta(days=1), time(0), ws.tz) - start).total_seconds())
            for _ in range(n):
                at = start + timedelta(seconds=rng.randrange(length))
                customer = self._customer(ws)[0] if rng.random() < 0.8 else None  # else a guest
                amount = round(6000 * p.accounts[0].minor_per_eur_cent * p.size * rng.uniform(0.5, 1.5))
                roll = rng.random()
                state = "cancelled" if roll < 0.03 else "refunded" if roll < 0.04 else "placed"
                placed.append((at, customer, amount, state))
        placed.sort(key=lambda o: o[0])
        for i, (at, customer, amount, state) in enumerate(placed):
            self.rows["shop_orders"].append(
                {
                    "id": self._uid("order", p.slug, i),
                    "workspace_id": ws.id,
                    "external_ref": f"#{10001 + i}",
                    "placed_at": at,
                    "customer_id": customer,
                    "total_minor": amount,
                    "currency": p.currency,
                    "state": state,
                }
            )
        return truth

    # --- invoices, lines, payments --------------------------------------------------------
    def _invoice_drafts(self, ws: _Ws) -> tuple[list[dict[str, Any]], list[tuple[date, int]]]:
        rng, end = self.rng, self.end
        drafts: list[dict[str, Any]] = []
        upcoming: list[tuple[date, int]] = []
        series = [(ws.customers[3], 1), (ws.customers[6], (end + timedelta(days=2)).day)]
        for index, (customer, day_of_month) in enumerate(series):
            price = rng.choice((150000, 240000))
            month = date(self.first_day.year, self.first_day.month, 1)
            while month <= end + timedelta(days=3):
                issue = month.replace(day=min(day_of_month, 28))
                if self.first_day <= issue <= end:
                    lines = [("Monthly retainer", 1, price)]
                    drafts.append(
                        {
                            "customer": customer,
                            "issued_on": issue,
                            "terms": 14,
                            "lines": lines,
                            "series": index,
                        }
                    )
                elif end < issue:
                    upcoming.append((issue, index))
                month = _next_month(month)
        for week in range(WEEKS):
            week_start = self.first_day + timedelta(days=7 * week)
            for _ in range(rng.randint(1, 2)):
                lines = [
                    (
                        rng.choice(("Roasting course", "Consulting day", "Wholesale beans", "Design sprint")),
                        rng.randint(1, 5),
                        rng.randint(8000, 180000),
                    )
                    for _ in range(rng.randint(1, 4))
                ]
                drafts.append(
                    {
                        "customer": self._customer(ws),
                        "issued_on": week_start + timedelta(days=rng.randrange(7)),
                        "terms": rng.choice((14, 30)),
                        "lines": lines,
                        "series": None,
                    }
                )
        for days_after in (1, 3):  # open and due within the 3 days after `end`
            drafts.append(
                {
                    "customer": rng.choice(ws.customers),
                    "issued_on": end + timedelta(days=days_after - 14),
                    "terms": 14,
                    "lines": [("Consulting day", rng.randint(1, 4), rng.randint(40000, 90000))],
                    "series": None,
                    "unpaid": True,
                }
            )
        drafts.sort(key=lambda d: (d["issued_on"], d["customer"][0], len(d["lines"])))
        return drafts, upcoming

    def _invoices(self, ws: _Ws, matches: list[PaymentMatch]) -> list[OpenInvoice]:
        p, rng, end = ws.profile, self.rng, self.end
        rate = p.accounts[0].minor_per_eur_cent * p.size
        drafts, upcoming = self._invoice_drafts(ws)
        open_invoices: list[OpenInvoice] = []
        latest_of_series: dict[int, str] = {}
        totals: list[int] = []
        for seq, d in enumerate(drafts, 1):
            invoice_id = self._uid("invoice", p.slug, seq)
            number = f"{p.prefix}-{d['issued_on'].year}-{seq:04d}"
            issued, due = d["issued_on"], d["issued_on"] + timedelta(days=d["terms"])
            lines = [(text, qty, max(1, round(price * rate / 10))) for text, qty, price in d["lines"]]
            total = sum(qty * price for _, qty, price in lines)
            totals.append(total)
            for position, (text, qty, price) in enumerate(lines, 1):
                self.rows["invoice_lines"].append(
                    {
                        "invoice_id": invoice_id,
                        "position": position,
                        "description": text,
                        "quantity": qty,
                        "unit_price_minor": price,
                    }
                )
            status, voided_at, paid_minor, received = "open", None, 0, 0
            paid_day = issued + timedelta(days=rng.randint(1, d["terms"] + 5))
            roll = rng.random()
            if d["series"] is None and not d.get("unpaid") and roll < 0.04:
                status, voided_at = "void", _business_time(rng, min(issued + timedelta(days=2), end), ws.tz)
            elif not d.get("unpaid") and roll < 0.85 and paid_day <= end:
                mode = rng.random()
                if mode < 0.12:  # two instalments
                    first = round(total * rng.uniform(0.4, 0.6))
                    parts = [(max(issued, paid_day - timedelta(days=7)), first), (paid_day, total - first)]
                elif mode < 0.2:  # a part paid, the rest still open
                    parts = [(paid_day, round(total * 0.5))]
                else:
                    parts = [(paid_day, total)]
                allocated_at = None
                for k, (day, amount) in enumerate(parts):
                    received += amount
                    allocated = self._payment(ws, invoice_id, number, d["customer"], day, amount, k, matches)
                    if allocated is not None:
                        paid_minor += amount
                        allocated_at = allocated
                if paid_minor == total:
                    status = "paid"
                    assert allocated_at is not None
                    self.events.append(
                        (allocated_at + timedelta(minutes=1), ws.id, "invoice.paid", "invoice", invoice_id)
                    )
            # Overdue the morning after its due day, unless its payments had all come in by then.
            settled = status != "void" and received == total and paid_day <= due
            if status != "void" and not settled and due + timedelta(days=1) <= end:
                self.events.append(
                    (
                        _at(due + timedelta(days=1), time(6), ws.tz),
                        ws.id,
                        "invoice.overdue",
                        "invoice",
                        invoice_id,
                    )
                )
            if d["series"] is not None:
                latest_of_series[d["series"]] = invoice_id
            self.rows["invoices"].append(
                {
                    "id": invoice_id,
                    "workspace_id": ws.id,
                    "customer_id": d["customer"][0],
                    "created_by": rng.choice(ws.member_ids),
                    "number": number,
                    "status": status,
                    "currency": p.currency,
                    "issued_on": issued,
                    "due_on": due,
                    "voided_at": voided_at,
                    "schedule": "monthly" if d["series"] is not None else None,
                }
            )
            if status == "open":
                open_invoices.append(
                    OpenInvoice(
                        workspace_id=ws.id,
                        invoice_id=invoice_id,
                        number=number,
                        due_on=due,
                        currency=p.currency,
                        total_minor=total,
                        paid_minor=paid_minor,
                    )
                )
        for k in range(2):  # drafts: no number, no dates, not owed by anyone yet
            invoice_id = self._uid("invoice", p.slug, "draft", k)
            self.rows["invoice_lines"].append(
                {
                    "invoice_id": invoice_id,
                    "position": 1,
                    "description": "Draft quote",
                    "quantity": 1,
                    "unit_price_minor": round(50000 * rate),
                }
            )
            self.rows["invoices"].append(
                {
                    "id": invoice_id,
                    "workspace_id": ws.id,
                    "customer_id": ws.customers[k][0],
                    "created_by": ws.member_ids[0],
                    "number": None,
                    "status": "draft",
                    "currency": p.currency,
                    "issued_on": None,
                    "due_on": None,
                    "voided_at": None,
                    "schedule": None,
                }
            )
        for k in range(3):  # payments of nothing invoiced: deposits, a mistaken transfer
            amount = round(rng.randint(20000, 60000) * rate) * 10 + 7
            while amount in totals:
                amount += 10
            day = end - timedelta(days=rng.randrange(40))
            self._payment(ws, None, None, None, day, amount, k, matches)
        for issue, index in upcoming:
            notice = issue - timedelta(days=3)
            if notice <= end and index in latest_of_series:
                self.events.append(
                    (
                        _at(notice, time(7), ws.tz),
                        ws.id,
                        "invoice.upcoming",
                        "invoice",
                        latest_of_series[index],
                    )
                )
        return open_invoices

    def _payment(
        self,
        ws: _Ws,
        invoice_id: str | None,
        number: str | None,
        customer: tuple[str, str, str] | None,
        day: date,
        amount: int,
        part: int,
        matches: list[PaymentMatch],
    ) -> datetime | None:
        """One incoming payment (of an invoice, or of nothing), and its allocation when it is old
        enough to have been linked; returns when it was allocated, None when not yet."""
        rng = self.rng
        payment_id = self._uid("payment", ws.profile.slug, invoice_id or "none", part, day)
        received_at = _business_time(rng, day, ws.tz)
        roll = rng.random()
        if number is None:
            reference = rng.choice(("Deposit", None, "Advance for Q1"))
        elif roll < 0.6:
            reference = number
        elif roll < 0.75:
            reference = number.lower().replace("-", "")
        elif roll < 0.87:
            reference = f"Payment for invoice {number}, thanks"
        elif roll < 0.98:
            reference = None
        else:
            reference = rng.choice(HOSTILE_REFERENCES).format(number)
        if customer is None:
            payer = rng.choice(("J. SMITH", None, "Unknown sender"))
        else:
            roll = rng.random()
            payer = customer[1] if roll < 0.6 else customer[2] if roll < 0.85 else customer[1].upper()
        self.rows["incoming_payments"].append(
            {
                "id": payment_id,
                "workspace_id": ws.id,
                "account_id": ws.account_ids[0],
                "received_at": received_at,
                "amount_minor": amount,
                "currency": ws.profile.currency,
                "payer_name": payer,
                "reference": reference,
            }
        )
        self.events.append(
            (received_at + timedelta(seconds=30), ws.id, "payment.received", "payment", payment_id)
        )
        if invoice_id is None:
            return None
        matches.append(PaymentMatch(payment_id=payment_id, invoice_id=invoice_id, amount_minor=amount))
        if day > self.end - timedelta(days=3) or rng.random() >= 0.85:
            return None  # recent, or left for the reconciliation
        allocated_at = received_at + timedelta(hours=1)
        self.rows["payment_allocations"].append(
            {
                "payment_id": payment_id,
                "invoice_id": invoice_id,
                "amount_minor": amount,
                "allocated_at": allocated_at,
            }
        )
        self.events.append((allocated_at, ws.id, "payment.allocated", "invoice", invoice_id))
        return allocated_at

    # --- inbox documents ------------------------------------------------------------------
    def _documents(self, ws: _Ws) -> list[DocumentMatch]:
        p, rng, end = ws.profile, self.rng, self.end
        duplicates = {id(d) for _, d in self.duplicates}
        drafts: list[tuple[date, _Txn | None, int]] = []
        for txn in ws.txns:
            if (
                txn.type not in ("card_payment", "direct_debit")
                or txn.category is None
                or id(txn) in duplicates
            ):
                continue
            if rng.random() < 0.08:
                drafts.append((min(txn.day + timedelta(days=rng.randint(0, 3)), end), txn, -txn.amount))
        amounts = {-t.amount for t in ws.txns if t.amount < 0}
        for _ in range(5):  # receipts of nothing booked (paid privately, not yet in the bank)
            amount = round(rng.randint(1500, 6000) * p.accounts[0].minor_per_eur_cent)
            while amount in amounts:
                amount += 1
            drafts.append((end - timedelta(days=rng.randrange(40)), None, amount))
        drafts.sort(key=lambda d: (d[0], d[1].id if d[1] else "~", d[2]))
        matches = []
        for seq, (day, txn, amount) in enumerate(drafts):
            document_id = self._uid("document", p.slug, seq)
            account = txn.account if txn else 0
            roll = rng.random()
            status = "parsed" if roll < 0.8 else "partial" if roll < 0.92 else "failed"
            vendor = txn.counterparty if txn else rng.choice(VENDORS["office"]).format(*p.legal)
            if vendor is not None and rng.random() < 0.2:
                vendor = vendor.upper()  # as OCR reads a letterhead
            if rng.random() < 0.01:
                vendor = rng.choice(HOSTILE_REFERENCES).format(vendor)
            row = {
                "id": document_id,
                "workspace_id": ws.id,
                "uploaded_at": _business_time(rng, day, ws.tz),
                "source": rng.choice(("email", "upload", "mobile")),
                "file_name": f"receipt_{seq + 1:04d}.pdf" if seq % 3 else f"IMG_{2000 + seq}.jpg",
                "ocr_status": status,
                "vendor_text": vendor,
                "document_date": txn.day if txn else day,
                "amount_minor": amount,
                "currency": ws.currency(account),
            }
            if status == "partial":  # the date or the vendor was not read
                row["document_date" if seq % 2 else "vendor_text"] = None
            elif status == "failed":
                row.update(vendor_text=None, document_date=None, amount_minor=None, currency=None)
            self.rows["inbox_documents"].append(row)
            if txn is None:
                continue
            matches.append(DocumentMatch(document_id=document_id, transaction_id=txn.id))
            if day <= end - timedelta(days=3) and rng.random() < 0.85:
                linked_at = max(txn.booked_at, row["uploaded_at"]) + timedelta(hours=1)
                by = "auto" if status == "parsed" else rng.choice(ws.member_ids)
                self.rows["document_links"].append(
                    {
                        "document_id": document_id,
                        "transaction_id": txn.id,
                        "linked_at": linked_at,
                        "linked_by": by,
                    }
                )
                self.events.append((linked_at, ws.id, "document.matched", "document", document_id))
        return matches

    # --- events, clean days ---------------------------------------------------------------
    def _flush_events(self) -> None:
        self.events.sort()
        self.rows["activity_log"] = [
            {
                "id": i,
                "workspace_id": ws,
                "occurred_at": at,
                "action": action,
                "subject_type": kind,
                "subject_id": subject,
            }
            for i, (at, ws, action, kind, subject) in enumerate(self.events, 1)
        ]

    def _clean_days(self) -> list[CleanDay]:
        clean = []
        for ws in self.workspaces:
            slug = ws.profile.slug
            planted = {o.day for o, _ in self.duplicates if o.ws is ws}
            planted |= {self.end - timedelta(days=b) for s, b, _ in ORDER_DROP_PLANTS if s == slug}
            for plant_ws, _, weeks_before, _, _ in WEEKLY_PLANTS:
                if plant_ws == slug:
                    week_end = self.week_end - timedelta(days=7 * weeks_before)
                    planted |= set(_days(week_end - timedelta(days=6), week_end))
            candidates = [d for d in _days(self.end - timedelta(days=27), self.end) if d not in planted]
            chosen = self.rng.sample(candidates, CLEAN_DAYS_PER_WORKSPACE)
            clean += [CleanDay(workspace_id=ws.id, day=d) for d in sorted(chosen)]
        return clean


def generate(seed: int = 7, end: date = DEFAULT_END) -> tuple[Rows, Truth]:
    """The rows of every Ledgerly table (keyed by table name) and the truth of what was planted."""
    gen = _Generator(seed, end)
    truth = gen.run()
    return gen.rows, truth
