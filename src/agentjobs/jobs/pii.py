"""A deterministic detector of personal data in a text: emails, phone numbers, card numbers, IBANs.

It guards what a job is about to send: every finding names its kind, its line and a masked form
(`j***@example.org`), never the value itself, so the finding can go into a log or an alert. It
aims at data that identifies or charges a person, and checks what it can in code (the Luhn digit
of a card, the mod-97 checksum of an IBAN) so that commit SHAs, dates, versions, amounts and
numbers inside URLs pass: a digest is full of numbers, and a guard that cries wolf is switched off.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Literal

Kind = Literal["email", "phone", "card", "iban"]
KINDS: tuple[Kind, ...] = ("email", "phone", "card", "iban")


@dataclass(frozen=True)
class Finding:
    kind: str  # one of KINDS (the review agent has a few kinds more)
    masked: str  # the match with most of it replaced by `*`: safe to log ("" when not quoted)
    line: int  # 1-based

    def describe(self) -> str:
        return f"{self.kind} on line {self.line}" + (f" ({self.masked})" if self.masked else "")


# Not inside a word, a number or a path: what precedes a match, and what may not follow it.
_BEFORE = r"(?<![\w.,:/+\-@])"
_AFTER = r"(?![\w@]|[.,:/\-]\d)"

_EMAIL = re.compile(
    r"(?<![\w.+%\-])"
    r"(?P<local>[A-Za-z0-9](?:[A-Za-z0-9._%+\-]{0,63}))@"
    r"(?P<domain>(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63})"
    r"(?![\w\-])"
)
# A git remote is a login at a host, not an address: scp-like `git@github.com:org/repo.git`
# (a path right after the colon) and URL user info (`ssh://git@github.com/org/repo.git`).
_SCP_PATH_AFTER = re.compile(r":[\w~./-]")
_URL_USERINFO_BEFORE = "://"
# `logo@2x.png` is a file name, not an address.
_FILE_SUFFIXES = frozenset({"png", "jpg", "jpeg", "gif", "svg", "webp", "ico", "pdf"})

# URLs: their digits are ids, dates and versions (an email in a query string is still found).
_URL = re.compile(r"\b(?:https?|ftp)://[^\s<>()\"']+|\bwww\.[^\s<>()\"']+")

# IBAN lengths by country (the registry's, SWIFT IBAN Registry); an unknown country is no IBAN.
IBAN_LENGTHS: dict[str, int] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
    "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28,
    "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23,
    "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26,
    "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20,
    "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MR": 27, "MT": 31, "MU": 30, "NL": 18,
    "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24,
    "SC": 31, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "ST": 25, "SV": 28, "TL": 23, "TN": 24,
    "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}  # fmt: skip
# Printed in groups of four (`DE89 3704 0044 0532 0130 00`) or in one piece, in either case
# (`de89 3704 …` is the same account; the checksum reads it upper-cased).
_IBAN = re.compile(_BEFORE + r"[A-Za-z]{2}\d{2}(?:[ ]?[A-Za-z0-9]{1,4}){3,8}" + r"(?![\w@])")

# 13-19 digits in one piece, or in groups split by spaces or dashes (`4111 1111 1111 1111`).
_CARD = re.compile(_BEFORE + r"\d(?:[ \-]?\d){12,18}" + _AFTER)
# Issuer prefixes of the card networks (Visa 4, Mastercard 2/5, Amex/Diners 3, Discover 6):
# a run of digits starting otherwise (an epoch in milliseconds starts with 1) is no card.
_CARD_FIRST_DIGITS = frozenset("23456")

# Phone numbers, each shape on its own; a candidate is then checked as a whole (digit count,
# no date inside, not an amount) and, if it fails, cut back group by group.
_PHONE_SHAPES: tuple[re.Pattern[str], ...] = (
    # International: +CC or 00CC, then groups (`+44 20 7946 0958`, `+1 (555) 123-4567`).
    re.compile(r"(?<![\w.,:/+\-])(?:\+|00)[1-9]\d{0,3}(?:[ .\-/]?\(?\d{1,6}\)?){1,6}" + _AFTER),
    # A parenthesised area code (`(555) 123-4567`, `(030) 1234567`).
    re.compile(r"(?<![\w.,:/+\-(])\(\d{2,5}\)[ \-]?\d{3,8}(?:[ .\-]\d{2,5}){0,2}" + _AFTER),
    # North American 3-3-4 with one separator kind (`555-123-4567`, `1.555.123.4567`).
    re.compile(_BEFORE + r"(?:1([ .\-]))?\d{3}([ .\-])\d{3}\2\d{4}" + _AFTER),
    # National with a trunk 0 (`020 7946 0958`, `0151 23456789`, `01 23 45 67 89`, `030/1234567`).
    re.compile(_BEFORE + r"0[1-9]\d{0,3}(?:[ .\-/]\d{2,8}){1,4}" + _AFTER),
)
# A date with a four-digit year inside a candidate makes it a date, not a phone number.
_DATE = re.compile(r"(?<!\d)(?:\d{4}[\-./]\d{1,2}[\-./]\d{1,2}|\d{1,2}[\-./]\d{1,2}[\-./]\d{4})(?!\d)")
_GROUP_END = re.compile(r"\d\)?")


def find_pii(text: str, allow: Iterable[str] = ()) -> list[Finding]:
    """Every email address, phone number, card number and IBAN in `text`, in reading order.

    `allow` holds the addresses a job expects to send (`team@example.org`) and whole domains
    (`example.org` or `@example.org`, subdomains included); they are no findings.
    """
    findings = []
    for span in find_spans(text, allow):
        value = text[span.start : span.end]
        if span.kind == "email":
            local, _, domain = value.rpartition("@")
            masked = mask_email(local, domain)
        else:
            masked = _mask_digits(value, span.kind)
        findings.append(Finding(span.kind, masked, _line(text, span.start)))
    return findings


@dataclass(frozen=True)
class Span:
    """Where in a text one finding is: what replaces it (a pseudonym) needs the offsets."""

    kind: Kind
    start: int
    end: int


def find_spans(text: str, allow: Iterable[str] = ()) -> list[Span]:
    """The offsets of what `find_pii` finds, in reading order (the same rules, the same `allow`)."""
    allowed = _Allowlist(allow)
    found: list[Span] = []
    # Numbers are looked for in a copy where URLs and emails are blanked out (same offsets),
    # so an id in a URL or the digits of an address are never read as a phone number too.
    numeric = _blank(text, _URL.finditer(text))
    emails = list(_EMAIL.finditer(text))
    numeric = _blank(numeric, emails)
    # An IBAN with a wrong check digit is no account, and its groups are no phone number either.
    numeric = _blank(numeric, [match for match, valid in _iban_shapes(numeric) if not valid])
    for match in emails:
        local, domain = match.group("local"), match.group("domain")
        if domain.rsplit(".", 1)[-1].lower() in _FILE_SUFFIXES or allowed.covers(local, domain):
            continue
        if _is_git_remote(text, match):
            continue
        found.append(Span("email", match.start(), match.end()))
    # In this order, each on what the one before left: an IBAN's digits are no card, a card's no phone.
    finders: tuple[tuple[Kind, Callable[[str], Iterator[tuple[int, int]]]], ...] = (
        ("iban", _ibans),
        ("card", _cards),
        ("phone", _phones),
    )
    for kind, finder in finders:
        for start, end in list(finder(numeric)):
            found.append(Span(kind, start, end))
            numeric = numeric[:start] + "_" * (end - start) + numeric[end:]
    return sorted(found, key=lambda span: span.start)


def _is_git_remote(text: str, match: re.Match[str]) -> bool:
    return bool(_SCP_PATH_AFTER.match(text, match.end())) or text.endswith(
        _URL_USERINFO_BEFORE, 0, match.start()
    )


class _Allowlist:
    def __init__(self, entries: Iterable[str]) -> None:
        self.addresses: set[str] = set()
        self.domains: set[str] = set()
        for entry in entries:
            entry = entry.strip().lower()
            if "@" in entry.lstrip("@"):
                self.addresses.add(entry)
            elif entry:
                self.domains.add(entry.lstrip("@"))

    def covers(self, local: str, domain: str) -> bool:
        domain = domain.lower()
        if f"{local.lower()}@{domain}" in self.addresses:
            return True
        return any(domain == d or domain.endswith("." + d) for d in self.domains)


def _blank(text: str, matches: Iterable[re.Match[str]]) -> str:
    # `_` is a word character, so a blanked span also stops a number from running into it.
    for match in matches:
        text = text[: match.start()] + "_" * (match.end() - match.start()) + text[match.end() :]
    return text


def _line(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _iban_shapes(text: str) -> Iterator[tuple[re.Match[str], bool]]:
    """Each IBAN-shaped string (a known country, its length) and whether its checksum holds."""
    for match in _IBAN.finditer(text):
        compact = match.group().replace(" ", "").upper()
        if IBAN_LENGTHS.get(compact[:2]) == len(compact):
            yield match, iban_checksum_ok(compact)


def _ibans(text: str) -> Iterator[tuple[int, int]]:
    return (match.span() for match, valid in _iban_shapes(text) if valid)


def iban_checksum_ok(iban: str) -> bool:
    """ISO 13616: the country and check digits moved to the end, letters as 10-35, mod 97 is 1."""
    moved = iban[4:] + iban[:4]
    if not moved.isalnum() or not moved.isascii():
        return False
    return int("".join(str(int(ch, 36)) for ch in moved)) % 97 == 1


def _cards(text: str) -> Iterator[tuple[int, int]]:
    for match in _CARD.finditer(text):
        candidate = match.group()
        digits = re.sub(r"\D", "", candidate)
        separators = set(re.findall(r"[ \-]", candidate))
        groups = re.split(r"[ \-]", candidate)
        if len(separators) > 1 or digits[0] not in _CARD_FIRST_DIGITS or not luhn_ok(digits):
            continue
        # Printed cards group digits in fours (Amex 4-6-5): any other grouping is some other number.
        if separators and (len(groups[0]) != 4 or not all(3 <= len(g) <= 6 for g in groups)):
            continue
        yield match.span()


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _phones(text: str) -> Iterator[tuple[int, int]]:
    taken: list[tuple[int, int]] = []
    for shape in _PHONE_SHAPES:
        for match in shape.finditer(text):
            start = match.start()
            if any(s <= start < e for s, e in taken):
                continue
            end = _longest_phone(text, start, match.end())
            if end is not None:
                taken.append((start, end))
    yield from sorted(taken)


def _longest_phone(text: str, start: int, end: int) -> int | None:
    """The end of the longest phone number starting at `start`, cut back group by group."""
    candidate = text[start:end]
    ends = [m.end() for m in _GROUP_END.finditer(candidate)]
    for cut in reversed(ends):
        if _is_phone(candidate[:cut]) and not re.match(r"\d", text[start + cut : start + cut + 1]):
            return start + cut
    return None


def _is_phone(candidate: str) -> bool:
    if candidate.count("(") != candidate.count(")") or _DATE.search(candidate):
        return False
    digits = re.sub(r"\D", "", candidate)
    if candidate.startswith("+"):
        return 8 <= len(digits) <= 15  # E.164: at most 15 digits with the country code
    if candidate.startswith("00"):
        return 8 <= len(digits) - 2 <= 15
    groups = re.findall(r"\d+", candidate)
    if len(groups) < 2:
        return False
    if candidate.startswith("("):
        return 9 <= len(digits) <= 12
    if len(digits) in (10, 11) and [len(g) for g in groups[-3:]] == [3, 3, 4]:
        return True  # North American
    if not candidate.startswith("0") or not 9 <= len(digits) <= 12 or not 2 <= len(groups[0]) <= 5:
        return False
    # `0 123 456 789`-like thousands grouping is an amount; a version has no trunk 0.
    return not all(len(g) == 3 for g in groups[1:])


def mask_email(local: str, domain: str) -> str:
    return f"{local[0]}***@{domain}"


def _mask_digits(value: str, kind: str) -> str:
    """Every digit but the last few as `*` (and an IBAN's letters after its country), layout kept."""
    keep = 2 if kind == "phone" else 4
    characters = list(value)
    positions = [i for i, ch in enumerate(characters) if ch.isalnum()]
    first = 2 if kind == "iban" else 0  # an IBAN keeps its country code: it says whose bank it is
    for i in positions[first : max(first, len(positions) - keep)]:
        characters[i] = "*"
    return "".join(characters)


def summary(findings: Iterable[Finding]) -> str:
    """`email on line 3 (j***@example.org), phone on line 7 (+** ** **** **58)`: nothing unmasked."""
    return ", ".join(finding.describe() for finding in findings)
