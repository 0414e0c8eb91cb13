"""Anomaly detection over one team's orders and transactions: plain code, no model.

Each metric is a daily series over the team's local days. A day is flagged when its value
is far from the trailing window's median in robust units: z = (x - median) / (1.4826 * MAD),
where 1.4826 * MAD estimates the standard deviation of normal noise while one earlier spike
or drop in the window barely moves it. A duplicate charge is a second expense of one vendor
with the same amount on the same local day.

The numbers a flag carries (value, median, z) are what the artifact prints; the model only
says why, and the check holds its words to these numbers.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

# The settings live with the kind's parse-time face (anomaly_settings.py); still importable from here.
from agentjobs.jobs.kinds.anomaly_settings import AnomalySettings, Metric

MAD_SCALE = 1.4826  # MAD * 1.4826 = the standard deviation, for normally distributed noise
# A steady series has MAD 0 (every day alike), and one extra order would then be an infinite z.
# The robust scale is therefore at least MIN_SCALE_FRACTION of the median (with the default
# threshold 4, a day within 20 % of the median is never flagged) and at least one unit (one
# order, one transaction, one minor unit of money).
MIN_SCALE_FRACTION = 0.05
MIN_SCALE = 1.0


@dataclass(frozen=True)
class MetricFlag:
    metric: Metric
    day: date
    value: int
    median: float
    z: float  # rounded to one decimal: the number the artifact prints
    history_days: int

    @property
    def id(self) -> str:
        return f"{self.metric}:{self.day.isoformat()}"


@dataclass(frozen=True)
class DuplicateFlag:
    day: date
    transaction_id: str  # the later of the two charges
    original_id: str
    vendor_id: str
    vendor_name: str
    amount_cents: int
    currency: str

    @property
    def id(self) -> str:
        return f"duplicate:{self.transaction_id}"


Flag = MetricFlag | DuplicateFlag


def parse_utc(value: Any) -> datetime:
    """A snapshot timestamp (ISO 8601 string, naive = UTC) as an aware datetime."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def local_day(value: Any, tz: ZoneInfo) -> date:
    return parse_utc(value).astimezone(tz).date()


def robust_z(value: float, history: Sequence[float]) -> tuple[float, float]:
    """The history's median and the robust z of `value` against it (scale floored, see above)."""
    import statistics  # at run time: a DAG parse imports this module (~0.8 ms), never scores

    median = statistics.median(history)
    mad = statistics.median(abs(x - median) for x in history)
    scale = max(MAD_SCALE * mad, MIN_SCALE_FRACTION * abs(median), MIN_SCALE)
    return median, (value - median) / scale


def _minor(row: Mapping[str, Any]) -> int:
    """The row's amount; a NULL one (a failed import) adds nothing to a day's sum, not a crash.
    The row still counts as an order or a transaction."""
    value = row.get("amount_cents")
    return 0 if value is None else int(value)


def daily_series(tables: Mapping[str, list[dict[str, Any]]], metric: Metric, tz: ZoneInfo) -> dict[date, int]:
    """The metric's value per local day that has rows; a day without any is 0."""
    series: dict[date, int] = defaultdict(int)
    if metric in ("orders", "order_revenue"):
        for row in tables.get("orders", []):
            if row.get("status") != "placed":
                continue  # a cancelled order is neither volume nor revenue
            series[local_day(row["placed_at"], tz)] += 1 if metric == "orders" else _minor(row)
    else:
        for row in tables.get("transactions", []):
            if metric == "expenses" and row.get("kind") != "expense":
                continue
            series[local_day(row["occurred_at"], tz)] += 1 if metric == "transactions" else _minor(row)
    return series


def first_day(tables: Mapping[str, list[dict[str, Any]]], tz: ZoneInfo) -> date | None:
    """The first local day with any row: before it the business had no data, not zero orders."""
    days = [local_day(r["placed_at"], tz) for r in tables.get("orders", [])]
    days += [local_day(r["occurred_at"], tz) for r in tables.get("transactions", [])]
    return min(days, default=None)


def history(
    tables: Mapping[str, list[dict[str, Any]]], tz: ZoneInfo, day: date, window_days: int
) -> list[date]:
    """The window's local days before `day` on which the business had data (see first_day)."""
    start = first_day(tables, tz)
    if start is None:
        return []
    days = (day - timedelta(days=n) for n in range(window_days, 0, -1))
    return [d for d in days if d >= start]


def metric_flags(
    tables: Mapping[str, list[dict[str, Any]]], timezone: str, day: date, settings: AnomalySettings
) -> list[MetricFlag]:
    tz = ZoneInfo(timezone)
    history_days = history(tables, tz, day, settings.window_days)
    if len(history_days) < settings.min_history_days:
        return []  # too little to tell a spike from the business's normal
    flags = []
    for metric in settings.metrics:
        series = daily_series(tables, metric, tz)
        value = series.get(day, 0)
        median, z = robust_z(value, [series.get(d, 0) for d in history_days])
        if abs(z) >= settings.threshold:
            flags.append(MetricFlag(metric, day, value, median, round(z, 1), len(history_days)))
    return flags


def duplicate_flags(transactions: Iterable[dict[str, Any]], timezone: str, day: date) -> list[DuplicateFlag]:
    """Every later expense of a vendor with the amount of an earlier one on `day` (oldest kept)."""
    tz = ZoneInfo(timezone)
    groups: dict[tuple[str, int, str], list[dict[str, Any]]] = defaultdict(list)
    for row in transactions:
        if row.get("kind") != "expense" or not row.get("vendor_id") or row.get("amount_cents") is None:
            continue  # two charges whose amounts are unknown are not "the same amount"
        if local_day(row["occurred_at"], tz) != day:
            continue
        groups[(str(row["vendor_id"]), int(row["amount_cents"]), str(row.get("currency") or ""))].append(row)
    flags = []
    for (vendor_id, amount, currency), rows in groups.items():
        rows.sort(key=lambda r: (parse_utc(r["occurred_at"]), str(r["id"])))
        original = rows[0]
        for later in rows[1:]:
            name = later.get("vendor_name") or vendor_id
            flags.append(
                DuplicateFlag(
                    day, str(later["id"]), str(original["id"]), vendor_id, str(name), amount, currency
                )
            )
    return sorted(flags, key=lambda f: f.transaction_id)


@dataclass(frozen=True)
class Detection:
    day: date
    history_days: int  # days of the window with data; below min_history_days no metric is judged
    flags: tuple[Flag, ...]

    def by_id(self) -> dict[str, Flag]:
        return {flag.id: flag for flag in self.flags}


def detect(
    tables: Mapping[str, list[dict[str, Any]]], timezone: str, day: date, settings: AnomalySettings
) -> Detection:
    """All flags of `day` (a local day of `timezone`): metrics in settings order, then duplicates."""
    flags: list[Flag] = list(metric_flags(tables, timezone, day, settings))
    if settings.duplicate_charges:
        flags += duplicate_flags(tables.get("transactions", []), timezone, day)
    days = len(history(tables, ZoneInfo(timezone), day, settings.window_days))
    return Detection(day, days, tuple(flags))
