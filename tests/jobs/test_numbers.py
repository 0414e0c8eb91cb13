"""numbers: every number a text states is seen, and is supported only at its written precision."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest

from agentjobs.jobs.markdown_text import as_text
from agentjobs.jobs.numbers import (
    UnknownCurrency,
    check_currency,
    extract,
    format_amount,
    format_count,
    format_pct,
    minor_to_major,
    unsupported_numbers,
)

D = Decimal


def values(text: str) -> list[Decimal]:
    return [w.value for w in extract(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("€12,345.67", [D("12345.67")]),
        ("$1,200 and ¥98,000", [D(1200), D(98000)]),
        ("20.5 % then -3%", [D("20.5"), D(-3)]),
        ("down \u22123.5% (unicode minus)", [D("-3.5")]),
        ("+20.0%", [D(20)]),
        ("-€1,200.00", [D(-1200)]),
        ("1.2k and 3M and 2bn", [D(1200), D(3_000_000), D(2_000_000_000)]),
        ("12Mbps", [D(12)]),  # the M of a unit word is not a scale
        ("Q3 week42 abc123def", [D(3), D(42), D(123)]),
        ("INV-0012", [D(12)]),  # a hyphen after a letter is no minus
        ("x-3 and 5-2", [D(3), D(5), D(2)]),
        ("1,2345", [D(1), D(2345)]),  # not a thousands group
        ("1,2,3", [D(1), D(2), D(3)]),
        ("1.234,56", [D("1.234"), D(56)]),  # European format is never one number
        ("rose 20%.", [D(20)]),
        ("**€5.00** in [the report](https://x.example/r/77?p=9)", [D(5), D(77), D(9)]),
        ("\u0661\u0662 and \uff13\uff14", [D(12), D(34)]),  # Arabic-Indic and fullwidth digits
        ("no numbers here", []),
    ],
)
def test_extract_sees_every_number(text: str, expected: list[Decimal]) -> None:
    assert values(text) == expected


def test_extract_keeps_written_text_and_precision() -> None:
    [a, b, c] = extract("€12,345.67 rose 20.0 % to 1.2k")
    assert (a.text, a.step) == ("€12,345.67", D("0.01"))
    assert (b.text, b.step, b.percent) == ("20.0 %", D("0.1"), True)
    assert (c.text, c.step) == ("1.2k", D(100))


def test_iso_dates_are_one_token_each() -> None:
    tokens = extract("week 2026-11-22\u20132026-11-28 and 2026-13-45")
    assert [t.text for t in tokens] == ["2026-11-22", "2026-11-28", "2026-13-45"]
    assert [t.day for t in tokens] == [date(2026, 11, 22), date(2026, 11, 28), None]
    # A date is supported only as a date: its parts as values are not enough.
    assert unsupported_numbers("2026-11-28", [2026, 11, 28]) == ["2026-11-28"]
    assert unsupported_numbers("2026-11-28", [], dates=[date(2026, 11, 28)]) == []
    assert unsupported_numbers("2026-13-45", [], dates=[date(2026, 11, 28)]) == ["2026-13-45"]


def test_rounding_is_at_the_written_precision() -> None:
    assert unsupported_numbers("20%", [D("19.96")]) == []
    assert unsupported_numbers("20.0%", [D("19.96")]) == []
    assert unsupported_numbers("20.0%", [D("19.95")]) == []
    assert unsupported_numbers("20.0%", [D("20.05")]) == []
    assert unsupported_numbers("20.0%", [D("19.94")]) == ["20.0%"]
    assert unsupported_numbers("20.0%", [D("20.06")]) == ["20.0%"]
    assert unsupported_numbers("20.00%", [D("19.96")]) == ["20.00%"]
    assert unsupported_numbers("€1.2k", [D("1234.56")]) == []
    assert unsupported_numbers("€1.23k", [D("1234.56")]) == []
    assert unsupported_numbers("€1.24k", [D("1234.56")]) == ["€1.24k"]


def test_sign_must_match_when_written() -> None:
    assert unsupported_numbers("fell 3%", [D(-3)]) == []  # magnitude without a sign
    assert unsupported_numbers("-3%", [D(-3)]) == []
    assert unsupported_numbers("\u22123%", [D(-3)]) == []
    assert unsupported_numbers("+3%", [D(-3)]) == ["+3%"]
    assert unsupported_numbers("-3%", [D(3)]) == ["-3%"]


def test_percentages_and_amounts_can_need_their_own_values() -> None:
    text = "Spend €20.00, up 20.0%, in 20 transactions"
    assert unsupported_numbers(text, [D(20)]) == []
    assert unsupported_numbers(text, [D(20)], percents=[D(5)]) == ["20.0%"]
    assert unsupported_numbers(text, [D(20)], amounts=[D(5)]) == ["€20.00"]
    assert unsupported_numbers(text, [D(5)], percents=[D(20)], amounts=[D(20)]) == ["20"]
    assert [w.currency for w in extract("€1 A$2 US$3 ¥4 5")] == ["€", "A$", "US$", "¥", None]


def test_invented_numbers_are_named_in_order() -> None:
    text = "Revenue €12,345.67 (+4.0%), 41 transactions, 7 refunds, and 99 % of it in INV-0013."
    allowed = [D("12345.67"), D("4.02"), D(41)]
    assert unsupported_numbers(text, allowed) == ["7", "99 %", "0013"]


def test_hostile_text_cannot_hide_a_number() -> None:
    hostile = "<script>alert(1)</script> [x](javascript:alert(2)) `3` <!channel> @here ~~4~~ &#53;"
    # 53 is the character reference's own number: seen as written, like every other.
    assert unsupported_numbers(hostile, []) == ["1", "2", "3", "4", "53"]
    # Escaped for markdown, the same numbers are still there.
    assert unsupported_numbers(as_text(hostile), []) == ["1", "2", "3", "4", "53"]
    assert unsupported_numbers("9" * 5000, []) == ["9" * 5000]
    assert unsupported_numbers("9" * 5000, [D("9" * 5000)]) == []


def test_minor_units_and_amounts() -> None:
    assert minor_to_major(1234567, "EUR") == D("12345.67")
    assert minor_to_major(98000, "JPY") == D(98000)
    assert format_amount(1234567, "EUR") == "€12,345.67"
    assert format_amount(120000, "USD") == "$1,200.00"
    assert format_amount(500, "GBP") == "£5.00"
    assert format_amount(500, "AUD") == "A$5.00"
    assert format_amount(98000, "JPY") == "¥98,000"
    assert format_amount(-98000, "JPY") == "-¥98,000"
    assert format_amount(1234567, "EUR", code=True) == "12,345.67 EUR"
    assert format_amount(1234567, "CHF") == "12,345.67 CHF"
    assert format_amount(5, "EUR", signed=True) == "+€0.05"
    assert format_amount(0, "EUR", signed=True) == "€0.00"


def test_percentages_round_half_up_to_one_decimal() -> None:
    assert format_pct(D("19.96")) == "20.0%"
    assert format_pct(D("19.95")) == "20.0%"
    assert format_pct(D("19.94")) == "19.9%"
    assert format_pct(D("-3.25")) == "-3.3%"
    assert format_pct(D("12.345"), signed=True) == "+12.3%"
    assert format_pct(D("-0.04"), signed=True) == "0.0%"  # no "-0.0%"
    assert format_pct(1234.5) == "1,234.5%"
    assert format_count(12345) == "12,345"


@pytest.mark.parametrize("minor", [0, 1, 99, 100, 123456789, -5, -123456])
@pytest.mark.parametrize("currency", ["EUR", "USD", "GBP", "AUD", "JPY", "CHF"])
def test_what_the_renderer_writes_is_supported_exactly(minor: int, currency: str) -> None:
    major = minor_to_major(minor, currency)
    text = f"{format_amount(minor, currency)} {format_amount(minor, currency, code=True, signed=True)}"
    assert unsupported_numbers(text, [major]) == []
    assert unsupported_numbers(text, [major + D(1)]) != []


@pytest.mark.parametrize(
    ("minor", "currency", "written", "major"),
    [
        (1234567, "KWD", "1,234.567 KWD", D("1234.567")),  # three decimals: fils
        (-1500, "BHD", "-1.500 BHD", D("-1.500")),
        (98000, "KRW", "98,000 KRW", D(98000)),  # none: won, pesos, dong, krónur
        (4_990, "CLP", "4,990 CLP", D(4990)),
        (123456, "VND", "123,456 VND", D(123456)),
        (12345, "CLF", "1.2345 CLF", D("1.2345")),  # four: unidad de fomento
        (-25, "isk", "-25 ISK", D(-25)),
    ],
)
def test_every_iso_currency_has_its_own_decimals_written_and_grounded(
    minor, currency, written, major
) -> None:
    assert format_amount(minor, currency) == written
    assert minor_to_major(minor, currency) == major
    # What a renderer writes is supported by the amount, and not by the amount read with 2 decimals.
    assert unsupported_numbers(written, [major]) == []
    wrong = D(minor).scaleb(-2)
    if wrong != major:
        assert unsupported_numbers(written, [wrong]) == [written.split()[0]]


@pytest.mark.parametrize("code", ["XYZ", "EURO", "", "us$", "XAU"])
def test_a_code_iso_4217_does_not_list_is_refused_naming_it_never_written_with_two_decimals(code) -> None:
    with pytest.raises(UnknownCurrency, match=re.escape(f"currency {code!r} is not an ISO 4217 code")):
        format_amount(1234, code)
    with pytest.raises(UnknownCurrency, match=re.escape(repr(code))):
        minor_to_major(1234, code)
    assert check_currency(" eur ") == "EUR"


def test_a_refund_is_written_with_its_minus_sign_not_as_a_bigger_amount() -> None:
    assert format_amount(-4_999, "EUR") == "-€49.99"
    assert format_amount(-4_999, "EUR", signed=True) == "-€49.99"
    assert format_amount(-4_999, "KWD", code=True) == "-4.999 KWD"
    # The check keeps the sign: "-€49.99" is supported by -49.99, not by +49.99.
    assert unsupported_numbers("-€49.99", [D("-49.99")]) == []
    assert unsupported_numbers("-€49.99", [D("49.99")]) == ["-€49.99"]
