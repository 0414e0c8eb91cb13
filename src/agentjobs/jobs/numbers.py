"""Every number a text states, and whether the data supports it at the precision it was written.

A check of "use ONLY the data provided" cannot rely on the model: it reads each number back
out of the artifact and looks for a value of the snapshot (or of a tool result computed from
it) that rounds to it. Extraction is deliberately greedy, so a number cannot hide:

- digits glued to letters count (`Q3`, `week42`, `INV-0012` gives 12); any Unicode decimal
  digit counts (`١٢` is 12), as `Decimal` reads them;
- `1,234,567.89` is one number (comma thousands groups of three); `1,2` is two; European
  `1.234,56` is read as 1.234 and 56 (both must then be supported, so it fails rather than passes);
- a sign is `-`, `+` or the Unicode minus (U+2212) right before the digits and not after a letter or
  digit (`-3%` is minus three, `INV-0012` is not negative, `x-3` neither);
- a `k`, `M` or `bn` glued to the number scales it (`1.2k` is 1200 written to the hundred);
- a percent sign may follow after spaces (`20.5 %`); a currency symbol (`€ $ £ ¥`, `A$`, `US$`)
  or an ISO code before or after only labels it: values are compared, not units;
- an ISO date `2026-11-28` is one token, supported only by a date given as such (never read as
  2026, -11 and -28); any other form of a date is plain numbers (`Nov 28` needs 28).

A written number is supported when some allowed value lies within half a unit of its last
written digit: "20%" by 19.96, "20.0%" only by 19.95..20.05, "€1.2k" by 1150..1250. With an
explicit sign the sign must match; without one the magnitude is compared ("fell 3%" by -3).
Numbers spelt as words ("twenty") are not seen; the structured schema keeps digits out of the
model's prose for that reason and the renderer writes the numbers itself.

The formatting helpers are what the renderers write, so a round trip is supported exactly.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from agentjobs.lazy_pattern import lazy
from agentjobs.sources.errors import PermanentSourceError

# ISO 4217's minor-unit exponents (list one, current codes and a few withdrawn ones old rows may
# still hold: HRK, SLL, ANG, CUC, ZWL). Codes without a minor unit (gold XAU, the SDR XDR, XXX...)
# are no currency a team books in, so they are unknown here like any other code.
_DECIMALS_0 = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF"
_DECIMALS_3 = "BHD IQD JOD KWD LYD OMR TND"
_DECIMALS_4 = "CLF UYW"
_DECIMALS_2 = (
    "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV BRL BSD BTN BWP BYN "
    "BZD CAD CDF CHE CHF CHW CNY COP COU CRC CUC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP "
    "GBP GEL GHS GIP GMD GTQ GYD HKD HNL HRK HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT "
    "LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO "
    "NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS "
    "SRD SSP STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD USN UYU UZS VED VES WST XCD "
    "XCG YER ZAR ZMW ZWG ZWL"
)
CURRENCY_DECIMALS: dict[str, int] = {
    code: decimals
    for decimals, codes in ((0, _DECIMALS_0), (2, _DECIMALS_2), (3, _DECIMALS_3), (4, _DECIMALS_4))
    for code in codes.split()
}
CURRENCY_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "AUD": "A$", "JPY": "¥"}
SCALES = {"k": Decimal(1000), "K": Decimal(1000), "M": Decimal(1_000_000), "bn": Decimal(1_000_000_000)}
MINUS_SIGNS = "-\u2212"

_DATE = r"(?P<date>(?<!\d)\d{4}-\d{2}-\d{2}(?!\d))"
# Thousands groups only when the groups end the integer part: "1,2345" is 1 and 2345.
_NUMBER = (
    r"(?P<sign>(?<![^\W_])[-+\u2212])?"  # a sign not glued to a letter, digit or underscore
    r"(?P<currency>US\$|A\$|[€$£¥])?"  # -€5.00: the sign written before the symbol
    r"(?P<digits>(?:\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?:\.\d+)?)"
    r"(?P<scale>(?:k|K|M|bn)(?![^\W\d_]))?"  # 1.2k, 3M, 2bn; not the M of "12Mbps"
    r"(?P<pct>[ \u00a0\u202f]*%)?"
)
_TOKEN = lazy(f"{_DATE}|{_NUMBER}")


@dataclass(frozen=True)
class Written:
    """One number as the text writes it."""

    text: str  # the characters it was read from, e.g. "-3.5%" or "2026-11-28"
    value: Decimal  # signed, scaled ("1.2k" is 1200); for a date, Decimal(0)
    step: Decimal  # one unit of the last written digit: 0.1 for "20.0", 100 for "1.2k"
    signed: bool  # an explicit + or - was written
    percent: bool = False
    currency: str | None = None  # the symbol written with it, e.g. "€" or "A$"
    day: date | None = None  # set for an ISO date token (None if it names no real day)
    is_date: bool = False


def extract(text: str) -> list[Written]:
    """Every number, amount, percentage and ISO date in `text`, in order."""
    found: list[Written] = []
    for m in _TOKEN.finditer(text):
        if m.group("date"):
            try:
                day: date | None = date.fromisoformat(m.group("date"))
            except ValueError:
                day = None  # "2026-13-45": still a token the check must refuse
            found.append(Written(m.group(0), Decimal(0), Decimal(1), False, day=day, is_date=True))
            continue
        digits = m.group("digits").replace(",", "")
        try:
            value = Decimal(digits)
        except InvalidOperation:  # pragma: no cover - the pattern only matches decimal digits
            continue
        step = Decimal(1).scaleb(value.as_tuple().exponent)  # type: ignore[arg-type]
        scale = SCALES.get(m.group("scale") or "", Decimal(1))
        sign = m.group("sign") or ""
        if sign in MINUS_SIGNS and sign:
            value = -value
        found.append(
            Written(
                text=m.group(0).strip(),
                value=value * scale,
                step=step * scale,
                signed=bool(sign),
                percent=bool(m.group("pct")),
                currency=m.group("currency"),
            )
        )
    return found


def supports(allowed: Decimal, written: Written) -> bool:
    """Whether `allowed`, written at `written`'s precision, could read as `written`."""
    target = written.value if written.signed else abs(written.value)
    candidate = allowed if written.signed else abs(allowed)
    # Both ends inclusive: half-up and half-even renderers both stay supported.
    return abs(candidate - target) * 2 <= written.step


def unsupported_numbers(
    text: str,
    allowed: Iterable[Decimal | int],
    *,
    dates: Iterable[date] = (),
    percents: Iterable[Decimal | int] | None = None,
    amounts: Iterable[Decimal | int] | None = None,
) -> list[str]:
    """The numbers of `text` (as written) that no allowed value or date supports, in order.

    With `percents`, a percentage is supported only by one of them; with `amounts`, a number
    written with a currency symbol only by one of them (a share is not a sum of money). Other
    numbers need a value of `allowed`."""
    values = sorted({Decimal(v) for v in allowed})
    shares = values if percents is None else sorted({Decimal(v) for v in percents})
    money = values if amounts is None else sorted({Decimal(v) for v in amounts})
    days = set(dates)
    missing: list[str] = []
    for written in extract(text):
        if written.is_date:
            ok = written.day is not None and written.day in days
        else:
            pool = shares if written.percent else money if written.currency else values
            ok = any(supports(v, written) for v in pool)
        if not ok:
            missing.append(written.text)
    return missing


@dataclass(frozen=True)
class Allowed:
    """What a kind's text may state, as code computed it: plain numbers, percentages and amounts
    apart (a share is not a sum of money), and the days it may name. Pass the fields to
    `unsupported_numbers`."""

    values: Collection[Decimal]  # what a plain number may be
    percents: Collection[Decimal]  # what a number written with % may be
    amounts: Collection[Decimal]  # what a number written with a currency symbol may be (major units)
    days: Collection[date] = ()  # the ISO dates it may write


# ------------------------------------------------------------------ what renderers write


class UnknownCurrency(PermanentSourceError, ValueError):
    """A currency code ISO 4217 does not list: its amounts cannot be written (how many decimals?).

    A value of the business database's rows: the same snapshot fails the same way, so the job's
    retry policy fails the team's task at once (PermanentSourceError) instead of retrying it."""


def currency_decimals(currency: str) -> int:
    """The minor-unit exponent of `currency` (JPY 0, EUR 2, KWD 3, CLF 4); UnknownCurrency names a
    code ISO 4217 does not list, rather than guess two decimals and misstate an amount 10- or 100-fold."""
    code = str(currency).strip().upper()
    try:
        return CURRENCY_DECIMALS[code]
    except KeyError:
        raise UnknownCurrency(
            f"currency {str(currency)[:16]!r} is not an ISO 4217 code (e.g. EUR, USD, JPY); "
            "fix the team's or the row's currency column"
        ) from None


def check_currency(currency: str) -> str:
    """`currency` as its upper-case ISO 4217 code; UnknownCurrency if it is none."""
    currency_decimals(currency)
    return str(currency).strip().upper()


def minor_to_major(minor_units: int, currency: str) -> Decimal:
    """Integer minor units as the exact amount in the currency: 1234567 EUR cents -> 12345.67."""
    return Decimal(minor_units).scaleb(-currency_decimals(currency))


def _grouped(value: Decimal, decimals: int) -> str:
    quantum = Decimal(1).scaleb(-decimals)
    return f"{abs(value).quantize(quantum, rounding=ROUND_HALF_UP):,.{decimals}f}"


def format_amount(minor_units: int, currency: str, *, code: bool = False, signed: bool = False) -> str:
    """`€12,345.67`, `¥98,000`, `A$5.00`; `12,345.67 EUR` with `code` or an unknown symbol.

    `signed` writes a `+` on a positive amount (a change); a negative amount always gets `-`."""
    currency = check_currency(currency)
    decimals = currency_decimals(currency)
    major = minor_to_major(minor_units, currency)
    number = _grouped(major, decimals)
    sign = "-" if minor_units < 0 else ("+" if signed and minor_units > 0 else "")
    symbol = CURRENCY_SYMBOLS.get(currency)
    if code or symbol is None:
        return f"{sign}{number} {currency}"
    return f"{sign}{symbol}{number}"


def format_pct(x: Decimal | int | float, *, signed: bool = False) -> str:
    """A percentage with one decimal, rounded half up: 19.96 -> `20.0%`; `+20.0%` with `signed`."""
    value = x if isinstance(x, Decimal) else Decimal(str(x))
    rounded = value.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    sign = "-" if rounded < 0 else ("+" if signed and rounded > 0 else "")
    return f"{sign}{abs(rounded):,.1f}%"


def format_count(n: int) -> str:
    return f"{n:,}"
