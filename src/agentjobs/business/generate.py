"""A deterministic sample business database with planted patterns and their ground truth.

`generate(path, seed, end)` writes ~6 months (26 local weeks ending on the last Saturday
<= `end`, plus any days up to `end`) of five teams' books into a SQLite file and the truth
of what was planted beside it (see truth.py and docs in BUSINESS.md).

Normal data is calm on purpose, so that what the jobs detect is exactly what was planted:
every category has a fixed daily cadence with +-4 % jitter per transaction (weekly totals move
well under 8 % week on week), orders are 40 +- 3 per local day with no weekday effect, and no
two transactions of a team share a local day and an amount unless planted as a duplicate.

Determinism: one `random.Random(seed)` consumed in a fixed order, no clock, no `hash()` of
strings, no iteration over sets; same seed and end -> identical rows and a byte-identical
truth file. Days and weeks are the team's local ones; timestamps are stored as naive UTC.
"""

from __future__ import annotations

import random
import statistics
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from agentjobs.atomic_file import replacing, write_atomically
from agentjobs.business import schema
from agentjobs.business.truth import (
    CleanDay,
    DuplicateCharge,
    OrderVolumeDrop,
    ReceiptMatch,
    Truth,
    WeeklyChange,
    load_truth,
    truth_path,
)

DEFAULT_END = date(2026, 11, 28)  # a Saturday
WEEKS = 26
ORDERS_PER_DAY = 40
ORDER_NOISE = 3
JITTER = 0.04  # per-transaction amount jitter; a week's total moves far less


@dataclass(frozen=True)
class TeamProfile:
    id: str
    short: str  # id and invoice-number prefix
    name: str
    timezone: str
    currency: str
    minor_per_eur_cent: float  # JPY: yen per euro cent (no minor unit)
    size: float  # scales every amount of the team
    slack_channel: str | None
    email_list: str | None
    legal: tuple[str, str, str]  # a legal-form suffix and two near-duplicate spellings of it
    users: tuple[tuple[str, str, str], ...]  # name, email, timezone


TEAMS: tuple[TeamProfile, ...] = (
    TeamProfile(
        "team-berlin",
        "BER",
        "Berlin",
        "Europe/Berlin",
        "EUR",
        1.0,
        1.0,
        "#team-berlin",
        None,
        ("GmbH", "Gmbh.", "G.m.b.H."),
        (
            ("Anna Schmidt", "anna.schmidt@example.org", "Europe/Berlin"),
            ("Jürgen Weiß", "juergen.weiss@example.org", "Europe/Berlin"),
            ("Lena *the* Koch", "lena.koch@example.org", "Europe/Berlin"),
            ("Tiago Silva", "tiago.silva@example.com", "Europe/Lisbon"),
        ),
    ),
    TeamProfile(
        "team-tokyo",
        "TYO",
        "Tokyo",
        "Asia/Tokyo",
        "JPY",
        1.6,
        1.2,
        None,
        "tokyo-finance@example.org,tokyo-ops@example.org",
        ("K.K.", "KK", "Kabushiki Kaisha"),
        (
            ("佐藤 花子", "hanako.sato@example.org", "Asia/Tokyo"),
            ("Kenji Tanaka", "kenji.tanaka@example.org", "Asia/Tokyo"),
            ("Yuki Mori", "yuki.mori@example.org", "Asia/Tokyo"),
            ("Emily Carter", "emily.carter@example.com", "America/New_York"),
            ("Ren Ito", "ren.ito@example.org", "Asia/Tokyo"),
        ),
    ),
    TeamProfile(
        "team-la",
        "LAX",
        "Los Angeles",
        "America/Los_Angeles",
        "USD",
        1.1,
        1.4,
        "#team-la",
        None,
        ("Inc.", "Inc", "Incorporated"),
        (
            ("Maria Garcia", "maria.garcia@example.org", "America/Los_Angeles"),
            ("James O'Neil", "james.oneil@example.org", "America/Los_Angeles"),
            ("Priya Patel", "priya.patel@example.com", "America/Denver"),
        ),
    ),
    TeamProfile(
        "team-sydney",
        "SYD",
        "Sydney",
        "Australia/Sydney",
        "AUD",
        1.6,
        0.8,
        "#team-sydney",
        "sydney-team@example.org",
        ("Pty Ltd", "Pty. Ltd.", "PTY LTD"),
        (
            ("Olivia Brown", "olivia.brown@example.org", "Australia/Sydney"),
            ("Jack Wilson", "jack.wilson@example.org", "Australia/Sydney"),
            ("Mia Nguyen", "mia.nguyen@example.org", "Australia/Perth"),
            ("Noah Taylor", "noah.taylor@example.org", "Australia/Sydney"),
            ("Chloe Martin", "chloe.martin@example.com", "Pacific/Auckland"),
            ("Liam Smith", "liam.smith@example.org", "Australia/Sydney"),
        ),
    ),
    TeamProfile(
        "team-london",
        "LON",
        "London",
        "Europe/London",
        "GBP",
        0.85,
        1.1,
        None,
        "london-finance@example.org,london-leads@example.com",
        ("Ltd", "Ltd.", "Limited"),
        (
            ("Oliver Hughes", "oliver.hughes@example.org", "Europe/London"),
            ("Amelia Jones", "amelia.jones@example.org", "Europe/London"),
            ("Sam @here Patel", "sam.patel@example.org", "Europe/Dublin"),
        ),
    ),
)

# category -> (transactions per day, base amount in euro cents, description items)
CADENCE: dict[str, tuple[int, int, tuple[str, ...]]] = {
    "software": (6, 4500, ("seat licences", "API usage", "cloud hosting", "monthly plan")),
    "travel": (2, 18000, ("train tickets", "flight", "hotel night", "taxi")),
    "office": (3, 3500, ("printer paper", "coffee beans", "desk chairs", "cleaning")),
    "marketing": (2, 25000, ("search ads", "social campaign", "sponsored post")),
    "utilities": (1, 9000, ("electricity", "internet", "water")),
    "contractors": (2, 60000, ("design work", "legal review", "bookkeeping")),
    "sales": (6, 30000, ("web shop payout", "wholesale order", "marketplace payout")),
    "services": (3, 80000, ("consulting retainer", "support contract", "workshop")),
}

# Vendor names per category; "{0}" "{1}" "{2}" are the team's legal suffix and its variants, so
# several vendors are near-duplicates of one real company.
VENDORS: dict[str, tuple[str, ...]] = {
    "software": ("Cloudnine {0}", "Pixelworks {0}", "Ticketly {0}", "CloudNine {1}"),
    "travel": ("Skyway Travel {0}", "RailGo {0}"),
    "office": ("Acme {0}", "ACME {1}", "Acme {2}"),
    "marketing": ("Brightads {0}", "Bright Ads {0}", "BrightAds {1}"),
    "utilities": ("City Power {0}",),
    "contractors": ("Northwind Consulting {0}", "Jane Doe Design"),
}
# Hostile names (renderers must escape them), used by a few rows only.
HOSTILE_VENDORS: dict[str, str] = {
    "marketing": "[Promo](javascript:alert(1)) Media {0}",
    "contractors": "<script>alert(1)</script> Labs {0}",
}
HOSTILE_CUSTOMERS: tuple[str, ...] = (
    "<!channel> **Vandelay** Industries",
    "@here Kramerica [pay now](javascript:alert(1))",
)
HOSTILE_SHARE = 0.002

CUSTOMERS: tuple[str, ...] = (
    "Globex {0}",
    "GLOBEX {1}",
    "Globex {2}",
    "Initech {0}",
    "Umbrella {0}",
    "Hooli {0}",
    "Stark Industries {0}",
    "Wayne Enterprises {0}",
    "Tyrell {0}",
    "Soylent {0}",
)

HOSTILE_DESCRIPTIONS: tuple[str, ...] = (
    "<script>alert('pwned')</script> {}",
    "@here refund **now** {}",
    "<!channel> [invoice](javascript:alert(1)) {}",
    "# Heading\n| a | b |\n{}",
    "<@U024BE7LH> `rm -rf /` {}",
)

# Planted patterns, as offsets in days/weeks before `end` (the anomaly job's "yesterday" is end).
WEEKLY_PLANTS: tuple[tuple[str, str, int, float, bool], ...] = (
    # team, category, weeks before the last full week, factor, step (stays) or one week only
    ("team-berlin", "marketing", 0, 1.38, False),
    ("team-tokyo", "contractors", 0, 1.30, False),
    ("team-london", "office", 3, 1.25, True),
)
DUPLICATE_PLANTS: tuple[tuple[str, int], ...] = (
    ("team-berlin", 0),
    ("team-la", 0),
    ("team-tokyo", 9),
    ("team-sydney", 30),
    ("team-london", 55),
    ("team-berlin", 80),
)
DUPLICATE_CATEGORY = "software"  # many small charges a day: one more moves the week ~2 %, not 8 %
ORDER_DROP_PLANTS: tuple[tuple[str, int, int], ...] = (
    ("team-tokyo", 0, 11),
    ("team-la", 0, 13),
    ("team-berlin", 12, 9),
    ("team-sydney", 40, 14),
)
CLEAN_DAYS_PER_TEAM = 6


@dataclass
class _Txn:
    team: TeamProfile
    day: date
    occurred_at: datetime
    kind: str
    category: str
    amount: int
    vendor_id: str | None
    customer_id: str | None
    description: str
    id: str = ""


@dataclass
class _TeamData:
    profile: TeamProfile
    tz: ZoneInfo
    user_ids: list[str] = field(default_factory=list)
    vendors: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # category -> (id, name)
    hostile_vendors: dict[str, tuple[str, str]] = field(default_factory=dict)
    customers: list[tuple[str, str]] = field(default_factory=list)
    hostile_customers: list[tuple[str, str]] = field(default_factory=list)
    txns: list[_Txn] = field(default_factory=list)


def last_saturday(day: date) -> date:
    return day - timedelta(days=(day.weekday() - 5) % 7)


def _utc(day: date, at: time, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, at, tzinfo=tz).astimezone(UTC).replace(tzinfo=None)


def _day_span_utc(day: date, tz: ZoneInfo) -> tuple[datetime, int]:
    """The UTC start of a local day and its length in seconds (23 h or 25 h on DST days)."""
    start = _utc(day, time(0), tz)
    return start, int((_utc(day + timedelta(days=1), time(0), tz) - start).total_seconds())


def _business_time(rng: random.Random, day: date, tz: ZoneInfo) -> datetime:
    # 08:00-19:00 local never falls in a DST gap or fold.
    seconds = rng.randrange(8 * 3600, 19 * 3600)
    return _utc(day, time(seconds // 3600, seconds % 3600 // 60, seconds % 60), tz)


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


class _Generator:
    def __init__(self, seed: int, end: date) -> None:
        self.rng = random.Random(seed)
        self.seed = seed
        self.end = end
        self.week_end = last_saturday(end)
        self.first_day = self.week_end - timedelta(days=7 * WEEKS - 1)
        self.days = _days(self.first_day, end)
        self.teams = [_TeamData(p, ZoneInfo(p.timezone)) for p in TEAMS]
        self.rows: dict[str, list[dict[str, Any]]] = {t.name: [] for t in schema.TABLES}
        self.events: list[tuple[datetime, str, str, str]] = []  # occurred_at, team, category, record
        self._duplicate_list: list[tuple[_Txn, _Txn]] = []

    def run(self) -> Truth:
        for team in self.teams:
            self._directory(team)
        for team in self.teams:
            self._transactions(team)
        duplicates = self._duplicate_list = self._duplicates()
        for team in self.teams:
            self._finish_transactions(team)
        drops = [drop for team in self.teams for drop in self._orders(team)]
        for team in self.teams:
            self._invoices(team)
        matches = [m for team in self.teams for m in self._receipts(team)]
        self._flush_events()
        changes = [self._weekly_change(*plant) for plant in WEEKLY_PLANTS]
        return Truth(
            seed=self.seed,
            first_day=self.first_day,
            last_day=self.end,
            weekly_changes=changes,
            duplicate_charges=[self._duplicate_truth(o, d) for o, d in duplicates],
            order_volume_drops=drops,
            clean_days=self._clean_days(duplicates),
            receipt_matches=matches,
        )

    # --- teams, users, vendors, customers -------------------------------------------------
    def _directory(self, team: _TeamData) -> None:
        p = team.profile
        self.rows["teams"].append(
            {
                "id": p.id,
                "name": p.name,
                "timezone": p.timezone,
                "currency": p.currency,
                "slack_channel": p.slack_channel,
                "email_list": p.email_list,
            }
        )
        for i, (name, email, tz) in enumerate(p.users, 1):
            user_id = f"usr-{p.short.lower()}-{i:02d}"
            team.user_ids.append(user_id)
            self.rows["users"].append(
                {"id": user_id, "team_id": p.id, "name": name, "email": email, "timezone": tz}
            )
        n = 0
        for category, names in VENDORS.items():
            team.vendors[category] = []
            for template in names:
                n += 1
                team.vendors[category].append(
                    self._named(p, "vendors", f"ven-{p.short.lower()}-{n:03d}", template)
                )
        for category, template in HOSTILE_VENDORS.items():
            n += 1
            team.hostile_vendors[category] = self._named(
                p, "vendors", f"ven-{p.short.lower()}-{n:03d}", template
            )
        for i, template in enumerate(CUSTOMERS + HOSTILE_CUSTOMERS, 1):
            pair = self._named(p, "customers", f"cus-{p.short.lower()}-{i:03d}", template)
            (team.customers if i <= len(CUSTOMERS) else team.hostile_customers).append(pair)

    def _named(self, p: TeamProfile, table: str, row_id: str, template: str) -> tuple[str, str]:
        name = template.format(*p.legal)
        self.rows[table].append({"id": row_id, "team_id": p.id, "name": name})
        return row_id, name

    def _customer(self, team: _TeamData) -> tuple[str, str]:
        if self.rng.random() < HOSTILE_SHARE:
            return self.rng.choice(team.hostile_customers)
        return self.rng.choice(team.customers)

    def _vendor(self, team: _TeamData, category: str) -> tuple[str, str]:
        if category in team.hostile_vendors and self.rng.random() < HOSTILE_SHARE:
            return team.hostile_vendors[category]
        # The first (canonical) vendor most of the time, a near-duplicate sometimes.
        options = team.vendors[category]
        return options[0] if self.rng.random() < 0.6 else self.rng.choice(options)

    # --- transactions ---------------------------------------------------------------------
    def _factor(self, team_id: str, category: str, day: date) -> float:
        for plant_team, plant_category, weeks_before, factor, step in WEEKLY_PLANTS:
            if (plant_team, plant_category) != (team_id, category):
                continue
            week_end = self.week_end - timedelta(days=7 * weeks_before)
            if week_end - timedelta(days=6) <= day and (step or day <= week_end):
                return factor
        return 1.0

    def _transactions(self, team: _TeamData) -> None:
        p, rng = team.profile, self.rng
        for day in self.days:
            taken: set[int] = set()  # amounts already used this local day (membership only)
            for category, (count, base, items) in CADENCE.items():
                income = category in schema.INCOME_CATEGORIES
                scale = base * p.minor_per_eur_cent * p.size * self._factor(p.id, category, day)
                for _ in range(count):
                    amount = round(scale * rng.uniform(1 - JITTER, 1 + JITTER))
                    while amount in taken:  # no accidental same-day duplicates
                        amount += 1
                    taken.add(amount)
                    item = rng.choice(items)
                    if income:
                        customer_id, customer = self._customer(team)
                        vendor_id, description = None, f"{item.capitalize()} from {customer}"
                    else:
                        vendor_id, vendor = self._vendor(team, category)
                        customer_id, description = None, f"{vendor}: {item}"
                    if rng.random() < 0.001:
                        description = rng.choice(HOSTILE_DESCRIPTIONS).format(description)
                    team.txns.append(
                        _Txn(
                            p,
                            day,
                            _business_time(rng, day, team.tz),
                            "income" if income else "expense",
                            category,
                            amount,
                            vendor_id,
                            customer_id,
                            description,
                        )
                    )

    def _duplicates(self) -> list[tuple[_Txn, _Txn]]:
        pairs = []
        by_id = {t.profile.id: t for t in self.teams}
        for team_id, days_before in DUPLICATE_PLANTS:
            team = by_id[team_id]
            day = self.end - timedelta(days=days_before)
            candidates = [t for t in team.txns if t.day == day and t.category == DUPLICATE_CATEGORY]
            original = self.rng.choice(candidates)
            later = original.occurred_at + timedelta(
                minutes=self.rng.randint(2, 40), seconds=self.rng.randint(0, 59)
            )
            duplicate = _Txn(**{**original.__dict__, "occurred_at": later, "id": ""})
            team.txns.append(duplicate)
            pairs.append((original, duplicate))
        return pairs

    def _finish_transactions(self, team: _TeamData) -> None:
        # Ids follow time, so a reader sorting by id or by occurred_at sees the same order.
        team.txns.sort(key=lambda t: t.occurred_at)
        short = team.profile.short.lower()
        for i, txn in enumerate(team.txns, 1):
            txn.id = f"txn-{short}-{i:06d}"
            self.rows["transactions"].append(
                {
                    "id": txn.id,
                    "team_id": team.profile.id,
                    "occurred_at": txn.occurred_at,
                    "kind": txn.kind,
                    "category": txn.category,
                    "amount_cents": txn.amount,
                    "currency": team.profile.currency,
                    "vendor_id": txn.vendor_id,
                    "customer_id": txn.customer_id,
                    "description": txn.description,
                }
            )
            created = txn.occurred_at + timedelta(seconds=self.rng.randint(1, 90))
            self.events.append((created, team.profile.id, "transaction_created", txn.id))

    def _duplicate_truth(self, original: _Txn, duplicate: _Txn) -> DuplicateCharge:
        assert original.vendor_id is not None
        return DuplicateCharge(
            team_id=original.team.id,
            day=original.day,
            original_id=original.id,
            duplicate_id=duplicate.id,
            amount_cents=original.amount,
            vendor_id=original.vendor_id,
        )

    def _weekly_change(
        self, team_id: str, category: str, weeks_before: int, _factor: float, _step: bool
    ) -> WeeklyChange:
        week_end = self.week_end - timedelta(days=7 * weeks_before)
        team = next(t for t in self.teams if t.profile.id == team_id)

        def total(last: date) -> int:
            first = last - timedelta(days=6)
            return sum(t.amount for t in team.txns if t.category == category and first <= t.day <= last)

        previous, current = total(week_end - timedelta(days=7)), total(week_end)
        return WeeklyChange(
            team_id=team_id,
            category=category,
            week_end=week_end,
            previous_total_cents=previous,
            total_cents=current,
            change_pct=round((current - previous) / previous * 100, 1),
        )

    # --- orders ---------------------------------------------------------------------------
    def _orders(self, team: _TeamData) -> list[OrderVolumeDrop]:
        p, rng = team.profile, self.rng
        drops = {self.end - timedelta(days=before): n for tid, before, n in ORDER_DROP_PLANTS if tid == p.id}
        placed: list[tuple[datetime, str, int, str]] = []
        counts: list[int] = []
        truth = []
        for day in self.days:
            n = drops.get(day, ORDERS_PER_DAY + rng.randint(-ORDER_NOISE, ORDER_NOISE))
            if day in drops:
                truth.append(
                    OrderVolumeDrop(
                        team_id=p.id, day=day, orders=n, typical_orders=statistics.median_low(counts[-28:])
                    )
                )
            counts.append(n)
            start, length = _day_span_utc(day, team.tz)
            for _ in range(n):
                at = start + timedelta(seconds=rng.randrange(length))
                customer_id = self._customer(team)[0]
                amount = round(6000 * p.minor_per_eur_cent * p.size * rng.uniform(0.5, 1.5))
                status = "cancelled" if rng.random() < 0.03 else "placed"
                placed.append((at, customer_id, amount, status))
        placed.sort(key=lambda o: o[0])
        for i, (at, customer_id, amount, status) in enumerate(placed, 1):
            self.rows["orders"].append(
                {
                    "id": f"ord-{p.short.lower()}-{i:06d}",
                    "team_id": p.id,
                    "placed_at": at,
                    "customer_id": customer_id,
                    "amount_cents": amount,
                    "status": status,
                }
            )
        return truth

    # --- invoices -------------------------------------------------------------------------
    def _invoices(self, team: _TeamData) -> None:
        p, rng, end = team.profile, self.rng, self.end
        drafts: list[dict[str, Any]] = []
        # Monthly retainers: one recurs two days after `end`, so its reminder is due.
        recurring = [
            (team.customers[3], 1),
            (team.customers[6], 15),
            (team.customers[7], (end + timedelta(days=2)).day),
        ]
        upcoming: list[tuple[date, int]] = []  # next issue date, index of its recurrence
        for index, ((customer_id, _), day_of_month) in enumerate(recurring):
            amount = round(rng.choice((150000, 240000, 320000)) * p.minor_per_eur_cent * p.size)
            month = date(self.first_day.year, self.first_day.month, 1)
            while month <= end + timedelta(days=3):
                issue = _clamped(month, day_of_month)
                if self.first_day <= issue <= end:
                    drafts.append(
                        {
                            "customer_id": customer_id,
                            "issued_on": issue,
                            "terms": 14,
                            "amount": amount,
                            "recurring": True,
                            "series": index,
                        }
                    )
                elif end < issue:
                    upcoming.append((issue, index))
                month = _next_month(month)
        for week in range(WEEKS):
            week_start = self.first_day + timedelta(days=7 * week)
            for _ in range(rng.randint(1, 2)):
                drafts.append(
                    {
                        "customer_id": self._customer(team)[0],
                        "issued_on": week_start + timedelta(days=rng.randrange(7)),
                        "terms": rng.choice((14, 30)),
                        "amount": round(rng.randint(40000, 900000) * p.minor_per_eur_cent * p.size),
                        "recurring": False,
                        "series": None,
                    }
                )
        for days_after in (1, 3):  # unpaid and due within the 3 days after `end`
            drafts.append(
                {
                    "customer_id": rng.choice(team.customers)[0],
                    "issued_on": end + timedelta(days=days_after - 14),
                    "terms": 14,
                    "amount": round(rng.randint(40000, 900000) * p.minor_per_eur_cent * p.size),
                    "recurring": False,
                    "series": None,
                    "unpaid": True,
                }
            )
        drafts.sort(key=lambda d: (d["issued_on"], d["customer_id"], d["amount"]))
        latest_of_series: dict[int, str] = {}
        for seq, d in enumerate(drafts, 1):
            invoice_id = f"inv-{p.short.lower()}-{seq:04d}"
            due = d["issued_on"] + timedelta(days=d["terms"])
            paid_at = None
            # Most invoices are paid within their terms (+5 days); none is paid after `end`.
            paid_day = d["issued_on"] + timedelta(days=rng.randint(1, d["terms"] + 5))
            if not d.get("unpaid") and rng.random() < 0.85 and paid_day <= end:
                paid_at = _business_time(rng, paid_day, team.tz)
                self.events.append((paid_at, p.id, "invoice_paid", invoice_id))
                self.events.append((paid_at + timedelta(minutes=10), p.id, "document_matched", invoice_id))
            elif due + timedelta(days=1) <= end:
                overdue_at = _utc(due + timedelta(days=1), time(6), team.tz)
                self.events.append((overdue_at, p.id, "invoice_overdue", invoice_id))
            if d["series"] is not None:
                latest_of_series[d["series"]] = invoice_id
            self.rows["invoices"].append(
                {
                    "id": invoice_id,
                    "team_id": p.id,
                    "customer_id": d["customer_id"],
                    "owner_user_id": rng.choice(team.user_ids),
                    "number": f"{p.short}-{d['issued_on'].year}-{seq:04d}",
                    "issued_on": d["issued_on"],
                    "due_on": due,
                    "amount_cents": d["amount"],
                    "currency": p.currency,
                    "status": "paid" if paid_at else "unpaid",
                    "paid_at": paid_at,
                    "recurring": d["recurring"],
                    "recurrence": "monthly" if d["recurring"] else None,
                }
            )
        for issue, index in upcoming:
            notice = issue - timedelta(days=3)
            if notice <= end and index in latest_of_series:
                self.events.append(
                    (
                        _utc(notice, time(7), team.tz),
                        p.id,
                        "recurring_invoice_upcoming",
                        latest_of_series[index],
                    )
                )

    # --- receipts -------------------------------------------------------------------------
    def _receipts(self, team: _TeamData) -> list[ReceiptMatch]:
        p, rng, end = team.profile, self.rng, self.end
        duplicates = {id(d) for _, d in self._duplicate_pairs_of(team)}
        drafts: list[tuple[date, str, int, _Txn | None]] = []
        for txn in team.txns:
            if txn.kind != "expense" or id(txn) in duplicates or rng.random() >= 0.08:
                continue
            received = min(txn.day + timedelta(days=rng.randint(0, 3)), end)
            vendor_id = txn.vendor_id
            assert vendor_id is not None
            options = team.vendors[txn.category]
            if len(options) > 1 and rng.random() < 0.15:  # filed under a near-duplicate vendor
                vendor_id = rng.choice(options)[0]
            drafts.append((received, vendor_id, txn.amount, txn))
        expense_amounts = {t.amount for t in team.txns if t.kind == "expense"}
        for _ in range(6):  # receipts with no transaction at all (paid privately, not yet booked)
            category = rng.choice(schema.EXPENSE_CATEGORIES)
            amount = round(CADENCE[category][1] * p.minor_per_eur_cent * p.size * rng.uniform(0.5, 0.9))
            while amount in expense_amounts:
                amount += 1
            day = end - timedelta(days=rng.randrange(60))
            drafts.append((day, rng.choice(team.vendors[category])[0], amount, None))
        drafts.sort(key=lambda d: (d[0], d[3].id if d[3] else "~", d[2]))
        matches = []
        for seq, (received, vendor_id, amount, txn) in enumerate(drafts, 1):
            receipt_id = f"rcp-{p.short.lower()}-{seq:05d}"
            linked = txn is not None and received <= end - timedelta(days=3) and rng.random() < 0.85
            if txn is not None:
                matches.append(ReceiptMatch(receipt_id=receipt_id, transaction_id=txn.id))
            if linked:
                assert txn is not None
                matched_at = max(txn.occurred_at, _utc(received, time(12), team.tz)) + timedelta(hours=1)
                self.events.append((matched_at, p.id, "receipt_matched", receipt_id))
            self.rows["receipts"].append(
                {
                    "id": receipt_id,
                    "team_id": p.id,
                    "vendor_id": vendor_id,
                    "received_on": received,
                    "amount_cents": amount,
                    "currency": p.currency,
                    "transaction_id": txn.id if linked and txn else None,
                }
            )
        return matches

    def _duplicate_pairs_of(self, team: _TeamData) -> list[tuple[_Txn, _Txn]]:
        return [pair for pair in self._duplicate_list if pair[0].team.id == team.profile.id]

    # --- events, clean days ---------------------------------------------------------------
    def _flush_events(self) -> None:
        self.events.sort()
        self.rows["events"] = [
            {"id": i, "team_id": team_id, "occurred_at": at, "category": category, "record_id": record}
            for i, (at, team_id, category, record) in enumerate(self.events, 1)
        ]

    def _clean_days(self, duplicates: list[tuple[_Txn, _Txn]]) -> list[CleanDay]:
        clean = []
        for team in self.teams:
            team_id = team.profile.id
            planted = {o.day for o, _ in duplicates if o.team.id == team_id}
            planted |= {self.end - timedelta(days=b) for t, b, _ in ORDER_DROP_PLANTS if t == team_id}
            for plant_team, _, weeks_before, _, _ in WEEKLY_PLANTS:
                if plant_team == team_id:
                    week_end = self.week_end - timedelta(days=7 * weeks_before)
                    planted |= set(_days(week_end - timedelta(days=6), week_end))
            candidates = [d for d in _days(self.end - timedelta(days=27), self.end) if d not in planted]
            chosen = [d for d in candidates if d == self.end - timedelta(days=1)]
            rest = [d for d in candidates if d not in chosen]
            chosen += self.rng.sample(rest, CLEAN_DAYS_PER_TEAM - len(chosen))
            clean += [CleanDay(team_id=team_id, day=d) for d in sorted(chosen)]
        return clean


def _clamped(month: date, day_of_month: int) -> date:
    last = (_next_month(month) - timedelta(days=1)).day
    return month.replace(day=min(day_of_month, last))


def _next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def generate(path: Path, seed: int = 7, end: date = DEFAULT_END) -> Truth:
    """Write the sample database to `path` (SQLite) and its truth to `<stem>.truth.json` beside it.

    Both files are replaced atomically: a killed run leaves the old files (or none), never a
    half-written database under the final name.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    gen = _Generator(seed, end)
    truth = gen.run()
    with replacing(path) as tmp:
        _write_sqlite(tmp, gen.rows)
    write_atomically(truth_path(path), truth.to_json())
    return truth


def _write_sqlite(path: Path, rows: dict[str, list[dict[str, Any]]]) -> None:
    engine = sa.create_engine(f"sqlite:///{path}")
    try:
        with engine.begin() as conn:
            # A temp file renamed only when complete: no journal needed while it is written.
            conn.exec_driver_sql("PRAGMA journal_mode=OFF")
            schema.metadata.create_all(conn)
            for table in schema.TABLES:
                if rows[table.name]:
                    conn.execute(table.insert(), rows[table.name])
    finally:
        engine.dispose()


class UnusableSampleDb(ValueError):
    """A file at the sample database's path that cannot be read as one; it is left as it is."""


def ensure_sample_db(path: Path, seed: int = 7) -> Truth:
    """The truth of the sample database at `path`, generated (with `seed`) only when no file is
    there. A file that is there is read whatever its seed and never replaced: it may be one the
    user generated with another seed, or hold the enrichment job's writes; one that cannot be read
    as a sample database (no truth file beside it, unreadable truth, a schema older than this
    version's) raises UnusableSampleDb saying why."""
    path = Path(path)
    if not path.exists():
        return generate(path, seed=seed)
    truth_file = truth_path(path)
    if not truth_file.exists():
        raise UnusableSampleDb(f"{path} has no {truth_file.name} beside it")
    try:
        truth = load_truth(path)
    except ValueError as exc:
        raise UnusableSampleDb(f"{truth_file} is not a truth file ({type(exc).__name__})") from None
    missing = _missing_columns(path)
    if missing:
        raise UnusableSampleDb(f"{path} lacks {', '.join(missing)} of this version's schema")
    return truth


def _missing_columns(path: Path) -> list[str]:
    """The tables and columns of today's schema the file lacks (one written before a column was
    added, e.g. the customers' enrichment columns, or not a database at all)."""
    engine = sa.create_engine(f"sqlite:///{path}")
    try:
        inspector = sa.inspect(engine)
        present = set(inspector.get_table_names())
        missing = []
        for table in schema.TABLES:
            if table.name not in present:
                missing.append(f"table {table.name}")
                continue
            have = {c["name"] for c in inspector.get_columns(table.name)}
            missing += [f"{table.name}.{c.name}" for c in table.columns if c.name not in have]
        return missing
    except sa.exc.SQLAlchemyError as exc:
        return [f"a readable SQLite schema ({type(exc).__name__})"]
    finally:
        engine.dispose()
