"""Masking of secrets in text that leaves the process (logs, error messages, XCom, notifications).

Model replies and tool output are quoted in error messages so that a failed unattended run can be
understood from its log alone; anything that looks like a credential is replaced by `***` first.
The patterns aim at well-known token formats and at `key = value` shapes whose key names a secret,
so ordinary prose, paths and JSON results pass through unchanged.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from agentjobs.agent.unicode_text import encode_json_text, valid_unicode
from agentjobs.lazy_pattern import lazy

MASK = "***"


# Containers nested deeper than this are not copied by scrub_json (see there).
MAX_JSON_DEPTH = 100

# Literal secrets shorter than this are skipped: masking every "abc" or "1" in a text would
# destroy it while protecting nothing.
MIN_SECRET_LEN = 4

# A token must not start in the middle of a longer word ("task-..." is not an OpenAI key).
_START = r"(?<![A-Za-z0-9_-])"

# Self-identifying token formats: the whole match is replaced.
_TOKEN_PATTERNS: tuple[re.Pattern[str], ...] = (
    # OpenAI-style keys, including sk-proj-... and sk-svcacct-... (the suffix allows - and _).
    lazy(_START + r"sk-[A-Za-z0-9_-]{16,}"),
    # GitHub classic tokens and fine-grained personal access tokens.
    lazy(_START + r"gh[pousr]_[A-Za-z0-9]{20,}"),
    lazy(_START + r"github_pat_[A-Za-z0-9_]{20,}"),
    # Slack bot/user/app tokens.
    lazy(_START + r"xox[abprs]-[A-Za-z0-9-]{10,}"),
    lazy(_START + r"xapp-[A-Za-z0-9-]{10,}"),
    # AWS access key ids (long-term AKIA, temporary ASIA).
    lazy(r"(?<![A-Z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Z0-9])"),
    # JSON Web Tokens: base64url header (always `{"` → "eyJ"), payload and signature.
    lazy(_START + r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"),
    # Google API keys: "AIza" and 35 more characters (a longer run goes whole: no tail is left).
    lazy(_START + r"AIza[A-Za-z0-9_-]{35,}"),
    # Stripe secret and restricted keys, live and test mode (a test key still reads the account's test data).
    lazy(_START + r"[sr]k_(?:live|test)_[A-Za-z0-9]{16,}"),
)

# Slack incoming webhooks and workflow triggers: the path is the credential, the host says what it was.
_SLACK_WEBHOOK = lazy(r"(?i)(\bhooks\.slack\.com/(?:services|workflows|triggers)/)[A-Za-z0-9/_-]+")

# PEM private keys: keep the armour lines, mask everything between them. A block cut short (a tail,
# a truncated page) has no END line; then the base64 lines after BEGIN go. The body may hold real
# newlines or, in JSON-escaped text, literal `\n`.
_PEM_LABEL = r"(?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"
_PEM_BEGIN = lazy(r"-----BEGIN " + _PEM_LABEL)
_PEM_END = lazy(r"-----END " + _PEM_LABEL)
_PEM_LINE = r"(?:[A-Za-z0-9+/=]{16,}|Proc-Type:[^\n\\]*|DEK-Info:[^\n\\]*)"
_PEM_SEP = r"(?:\s|\\[rn])"
_PEM_CUT_BODY = lazy(rf"(?:\*\*\*)?(?:{_PEM_SEP}*{_PEM_LINE}(?:{_PEM_SEP}+{_PEM_LINE})*)?")

# A quote around a key or a value: plain, or escaped once or more (`\"password\": \"x\"` is how a
# JSON document looks inside another JSON string, e.g. tool arguments quoted in an error body).
# Three levels of escaping at most: an unbounded `\\*` would make a run of backslashes quadratic.
_QUOTE = r"\\{0,7}[\"']"

# `Authorization: Bearer <value>` (also Basic and token): keep the header and the scheme, mask the value.
_AUTH_HEADER = lazy(
    rf"(?i)(\bauthorization(?:{_QUOTE})?[ \t]*[:=][ \t]*(?:{_QUOTE})?(?:bearer|basic|token)[ \t]+)"
    r"[^\s\"',;\\]+"
)
# A bare long bearer token without the header name, as in curl command lines copied into a reply.
_BARE_BEARER = lazy(r"(\bBearer[ \t]+)[A-Za-z0-9._~+/=-]{16,}")

# The value after a secret key: a quoted string (JSON escapes honoured, so `"a\"b"` goes whole, and
# YAML's and SQL's doubled quote, so `'it''s'` does),
# an escaped-quoted one (up to the same escaped quote), or a bare word. A bare word does not take
# a backslash that escapes a quote, so `password=x\"` keeps its `\"` and the text its shape.
# Quoted values are bounded so that a line of unclosed quotes costs linear time.
_VALUE = (
    r"(?:\"(?:[^\"\\\n]|\\.){1,4096}\"|'(?:[^'\\\n]|\\.|''){1,4096}'"
    r"|(?P<q>\\{1,7}[\"'])(?:(?!(?P=q))[^\n]){1,4096}(?P=q)"
    r"|(?:[^\s,;&\"'}\]\\]|\\(?![\\\"']))+)"
)

# `key: value` / `key=value` / `"key": "value"` where the key names a secret. The key may carry a
# prefix (OPENAI_API_KEY, db_password, aws_secret_access_key). The separator and the value must
# be on the same line, so a heading like "Password:" followed by a newline masks nothing.
_SECRET_KEY = (
    r"[A-Za-z0-9_.-]*?"
    r"(?:api[_-]?key|secret[_-]?access[_-]?key|access[_-]?key|secret[_-]?key|client[_-]?secret"
    r"|private[_-]?key|secret|password|passwd|token"
    # Azure storage connection strings (`AccountKey=…`; `SharedAccessKey=…` is an access_key above).
    r"|account[_-]?key)"
)
_KEY_VALUE = lazy(
    r"(?i)(?<![A-Za-z0-9_.-])"
    rf"(?P<key>(?:{_QUOTE})?{_SECRET_KEY}(?:{_QUOTE})?[ \t]*[:=][ \t]*)" + _VALUE
)

# Session cookies (`session=…`, `user_session=…`, `connect.sid=…`, `PHPSESSID=…`). "session" is
# also an ordinary word ("session: 2"), so only the cookie form `name=value` and a quoted JSON key
# count.
_COOKIE_KEY = r"(?:(?:[A-Za-z0-9_.-]*[_.-])?(?:session(?:[_-]?id)?|sess|sid)|phpsessid|jsessionid|sessionid)"
_SESSION_COOKIE = lazy(
    r"(?i)(?<![A-Za-z0-9_.-])"
    rf"(?P<key>(?P<kq>{_QUOTE}){_COOKIE_KEY}(?P=kq)[ \t]*:[ \t]*|{_COOKIE_KEY}[ \t]*=[ \t]*)" + _VALUE
)

# Credentials inside URLs: scheme://user:password@host -> scheme://***@host. The user may be empty
# (`redis://:pw@host`); the password may hold `@`, `/` and `#`, so it runs to the first `@` that is
# followed by a host and the end of the host. A `host:port/…@…` is not a password (the digits and
# a `/` after the colon say port), and quotes or backslashes end it (they end the URL in JSON).
# Every part is bounded so that hostile text cannot make the match quadratic.
_URL_END = r"(?:[/?#\s\"'<>\\)\],;]|$)"
_URL_CREDENTIALS = lazy(
    r"(?<![A-Za-z0-9+.-])(?P<scheme>[A-Za-z][A-Za-z0-9+.-]{0,30}://)"
    r"[^\s/?#@:\[\]\"'<>\\]{0,256}:"
    rf"(?!\d{{1,5}}{_URL_END})"
    r"[^\s\"'<>\\]{0,256}?"
    rf"@(?=[A-Za-z0-9\[][A-Za-z0-9.:%\[\]-]*{_URL_END})"
)


# Every pattern above needs one of these in the text to match (a superset: case is ignored). Text
# with none of them, most of what a transcript holds (keys, ids, roles, short tool results), skips
# the patterns after one search; text with one runs them all, as before.
_TRIGGERS = lazy(
    r"(?i)://|authorization|bearer|key|secret|passw|token|sess|sid|hooks\.slack\.com"
    r"|sk-|gh[pousr]_|github_pat_|xox[abprs]-|xapp-|akia|asia|eyj|aiza|k_live_|k_test_"
)

# What each pattern needs, as it shows in JSON text (a string's `"`, `\\` and tab escaped): a JSON
# line that holds none of these holds no string any pattern would change (see json_line). Plain
# substring searches: Python's regex alternations cost ~100 times more on a line of JSON.
_CASED_WORDS = ("sk-", "github_pat_", "xapp-", "AKIA", "ASIA", "eyJ", "AIza", "k_live_", "k_test_", "Bearer")
# `gh[pousr]_` and `xox[abprs]-` spelled out: looked for only where "gh" or "xox" occurs, a few
# substring searches cost less than two regex searches over every line.
_CASED_PREFIXED = (
    ("gh", ("ghp_", "gho_", "ghu_", "ghs_", "ghr_")),
    ("xox", ("xoxa-", "xoxb-", "xoxp-", "xoxr-", "xoxs-")),
)
_ANY_CASE_WORDS = ("authorization", "hooks.slack.com", "private key-----")
# A secret key or cookie name counts only followed by its separator, so `"prompt_tokens": 10`
# does not: the name may end in a quote escaped up to seven times (twice as many backslashes
# once in JSON), then spaces or tabs (`\t` in JSON), then `:` or `=`.
_SEPARATED_WORDS = {  # a word, and the endings that make the whole names from it
    "key": ("",),
    "secret": ("",),
    "passw": ("d", "ord"),
    "token": ("",),
    "sess": ("", "ion", "ionid", "ion_id", "ion-id"),
    "sid": ("",),
}
_SEPARATOR_STARTS = frozenset("\\\"' :=")
_WHOLE_WORDS = tuple(word for word, endings in _SEPARATED_WORDS.items() if endings == ("",))
_ENDED_WORDS = tuple((word, endings) for word, endings in _SEPARATED_WORDS.items() if endings != ("",))
_SEPARATOR_AFTER = lazy(r"(?:\\{0,15}[\"'])?(?: |\\t)*[:=]")
# IGNORECASE also matches these four letters to ASCII ones (re's documentation), `.lower()` does not.
_CASE_FOLDS = str.maketrans({"\u017f": "s", "\u212a": "k", "\u0131": "i", "\u0130": "i"})
_SURROGATE = lazy("[\ud800-\udfff]")


def _has_any(text: str, words: tuple[str, ...]) -> bool:
    # A loop rather than any() over a generator: half the time, and could_mask runs on every
    # transcript event.
    for word in words:
        if word in text:
            return True
    return False


def _has_cased_prefix(text: str) -> bool:
    for start, words in _CASED_PREFIXED:
        if start in text and _has_any(text, words):
            return True
    return False


def _has_separated_word(lowered: str) -> bool:
    # Words that are whole names as they are: only the character after one is looked at (a JSON
    # line shows "token" in every usage block: "prompt_tokens", "total_tokens", ...).
    for word in _WHOLE_WORDS:
        at = lowered.find(word)
        while at != -1:
            at += len(word)
            if lowered[at : at + 1] in _SEPARATOR_STARTS and _SEPARATOR_AFTER.match(lowered, at):
                return True
            at = lowered.find(word, at)
    for word, endings in _ENDED_WORDS:
        at = lowered.find(word)
        while at != -1:
            end = at + len(word)
            for ending in endings:
                after = end + len(ending)
                # The character after the name opens the separator, or it is no name ("tokens").
                if (
                    lowered.startswith(ending, end)
                    and lowered[after : after + 1] in _SEPARATOR_STARTS
                    and _SEPARATOR_AFTER.match(lowered, after)
                ):
                    return True
            at = lowered.find(word, end)
    return False


# Strings up to this long are remembered with their scrubbed form: a transcript repeats the same
# keys and values ("role", "assistant", "tool_calls", …) in every event.
_MEMO_MAX_LEN = 256
_MEMO_MAX_ENTRIES = 8192


def scrub(text: str, extra_secrets: Iterable[str] = ()) -> str:
    """Return `text` with every known secret shape and every literal in `extra_secrets` masked.

    Idempotent (scrubbing twice changes nothing more), and text with no secret in it comes back
    unchanged, except that lone surrogates become U+FFFD: what leaves the process must encode
    as UTF-8 (an alert quoting a reply with one could not be sent).
    """
    return _scrub(text, _literal_pattern(_secret_key(extra_secrets)))


def _secret_key(extra_secrets: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted({s for s in extra_secrets if isinstance(s, str)}))


def _scrub(text: str, literals: re.Pattern[str] | None) -> str:
    text = valid_unicode(text)
    if literals is not None:
        text = literals.sub(MASK, text)
    if not _TRIGGERS.search(text):
        return text
    # Key-value and header shapes before bare tokens: they keep the key visible, which tells the
    # reader which credential was there.
    text = _mask_private_keys(text)
    text = _URL_CREDENTIALS.sub(lambda m: m.group("scheme") + MASK + "@", text)
    # The costlier patterns only run where their key words occur (transcripts are megabytes).
    lowered = text.lower()
    if "hooks.slack.com" in lowered:
        text = _SLACK_WEBHOOK.sub(lambda m: m.group(1) + MASK, text)
    text = _AUTH_HEADER.sub(lambda m: m.group(1) + MASK, text)
    text = _BARE_BEARER.sub(lambda m: m.group(1) + MASK, text)
    if any(word in lowered for word in ("key", "secret", "passw", "token")):
        text = _KEY_VALUE.sub(_mask_value, text)
    if "sess" in lowered or "sid" in lowered:
        text = _SESSION_COOKIE.sub(_mask_value, text)
    for pattern in _TOKEN_PATTERNS:
        text = pattern.sub(MASK, text)
    return text


class _Scrubber:
    """scrub() for many strings under the same secrets: the literal pattern resolved once, and
    short strings remembered (the memo belongs to one set of secrets, so it cannot mix them up)."""

    def __init__(self, extra_secrets: Iterable[str]) -> None:
        self.literals = _literal_pattern(_secret_key(extra_secrets))
        self.memo: dict[str, str] = {}

    def __call__(self, text: str) -> str:
        if len(text) > _MEMO_MAX_LEN:
            return _scrub(text, self.literals)
        cleaned = self.memo.get(text)
        if cleaned is None:
            cleaned = _scrub(text, self.literals)
            if len(self.memo) >= _MEMO_MAX_ENTRIES:
                self.memo.clear()
            self.memo[text] = cleaned
        return cleaned

    def json_line(self, value: Any, encoded: Mapping[str, str] | None = None) -> str:
        """json_line() under this scrubber's secrets (a transcript writes every event with one)."""
        try:
            line = _JSON_LINE(value) if not encoded else _spliced_line(value, encoded)
        except (TypeError, ValueError, RecursionError):  # NaN, a huge integer, an object, deep nesting
            line = None
        if line is None or self.could_mask(line):
            line = _JSON_LINE(_scrub_json(value, self, MAX_JSON_DEPTH))
        return line

    def could_mask(self, line: str) -> bool:
        """Whether scrubbing the strings of the JSON text `line` could change any (False: none)."""
        ascii_only = line.isascii()
        if (
            line.count("[") + line.count("{") > MAX_JSON_DEPTH  # maybe deeper than scrub_json keeps
            or (not ascii_only and _SURROGATE.search(line))
            or (self.literals is not None and self.literals.search(line))
            or ("://" in line and "@" in line)
            or _has_any(line, _CASED_WORDS)
            or _has_cased_prefix(line)
        ):
            return True
        lowered = (line if ascii_only else line.translate(_CASE_FOLDS)).lower()
        return _has_any(lowered, _ANY_CASE_WORDS) or _has_separated_word(lowered)


@lru_cache(maxsize=16)
def scrubber(extra_secrets: tuple[str, ...] = ()) -> _Scrubber:
    """The shared scrubber of these secrets (a transcript scrubs every event with one)."""
    return _Scrubber(extra_secrets)


def scrubber_of(extra_secrets: Iterable[str] = ()) -> _Scrubber:
    """scrubber() of any iterable of secrets (non-strings ignored, order and repeats too)."""
    return scrubber(_secret_key(extra_secrets))


@lru_cache(maxsize=64)
def _literal_pattern(secrets: tuple[str, ...]) -> re.Pattern[str] | None:
    """One pattern for the configured secrets, as written and as they look once escaped.

    A secret holding `"` or `\\` appears as `\\"` / `\\\\` in JSON text (an error body quoting a
    request) and with Python's escapes in a repr (a dict in an exception message); each form is
    masked. Longest first, so a secret containing another one is masked whole.
    """
    forms: set[str] = set()
    for secret in secrets:
        if len(secret) < MIN_SECRET_LEN:
            continue
        as_json = json.dumps(secret, ensure_ascii=False)[1:-1]
        forms.update(
            (
                secret,
                as_json,
                json.dumps(secret)[1:-1],
                json.dumps(as_json, ensure_ascii=False)[1:-1],  # JSON inside a JSON string
                repr(secret)[1:-1],
            )
        )
    if not forms:
        return None
    return re.compile("|".join(re.escape(s) for s in sorted(forms, key=len, reverse=True)))


def _mask_value(match: re.Match[str]) -> str:
    key = match.group("key")
    value = match.group(0)[len(key) :]
    # Keep the quotes of a quoted value so masked JSON stays readable as JSON.
    quote = match.group("q") or (value[0] if value[:1] in ("'", '"') else "")
    return key + quote + MASK + quote


def _mask_private_keys(text: str) -> str:
    """Mask the body of every PEM private-key block, in one pass over the text.

    Searched in code rather than with one lazy regex: a text with many BEGIN lines and no END
    would make `BEGIN.*?END` rescan the rest of the text from every BEGIN.
    """
    if "PRIVATE KEY-----" not in text:
        return text
    parts: list[str] = []
    pos = 0
    ends_left = True  # once an END search fails, no later BEGIN has one either
    while (begin := _PEM_BEGIN.search(text, pos)) is not None:
        parts.append(text[pos : begin.end()] + MASK)
        end = _PEM_END.search(text, begin.end()) if ends_left else None
        if end is not None:
            parts.append(end.group())
            pos = end.end()
            continue
        ends_left = False
        body = _PEM_CUT_BODY.match(text, begin.end())
        pos = body.end() if body is not None else begin.end()
    parts.append(text[pos:])
    return "".join(parts)


def scrub_json(value: Any, extra_secrets: Iterable[str] = (), *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """A copy of `value` that `json.dumps(..., allow_nan=False)` always encodes, every string scrubbed.

    Strings (keys too) are scrubbed one by one, before any encoding: scrubbing encoded JSON could
    eat an escaping backslash and leave a line no parser reads. Whatever JSON cannot hold exactly
    becomes a string saying what it was: lone surrogates U+FFFD (as in scrub), NaN and infinities
    their names, an integer too long for `str()` its size, other objects their `str()`, and
    containers nested deeper than `max_depth` a note (hostile input may nest 10,000 levels).
    """
    return _scrub_json(value, scrubber_of(extra_secrets), max_depth)


def _scrub_json(value: Any, scrub_text: _Scrubber, max_depth: int) -> Any:
    def clean(item: Any, depth: int) -> Any:
        if isinstance(item, str):
            return scrub_text(item)
        if item is None or isinstance(item, bool):
            return item
        if isinstance(item, int):
            try:
                str(item)
            except ValueError:  # beyond sys.get_int_max_str_digits()
                return f"<integer of {item.bit_length()} bits>"
            return item
        if isinstance(item, float):
            return item if math.isfinite(item) else str(item)
        if isinstance(item, dict | list | tuple):
            if depth >= max_depth:
                return f"<nested deeper than {max_depth} levels>"
            if isinstance(item, dict):
                return {clean(str(k), depth): clean(v, depth + 1) for k, v in item.items()}
            return [clean(v, depth + 1) for v in item]
        return clean(str(item), depth)

    return clean(value, 0)


def json_line(
    value: Any, extra_secrets: Iterable[str] = (), *, encoded: Mapping[str, str] | None = None
) -> str:
    """`json.dumps(scrub_json(value, extra_secrets), ensure_ascii=False, allow_nan=False)`, without
    copying `value` string by string when its JSON text shows that nothing in it could be masked
    or changed (most events of a transcript). Keys that are not strings are written as JSON
    writes them.

    `encoded` gives members of the dict `value` already encoded by unicode_text.json_text (the
    same encoding): their text is used as it is rather than encoded again, and they are written
    after the other members (callers put them last). The whole line is still checked, and
    scrubbed from `value` when it shows anything maskable."""
    return scrubber_of(extra_secrets).json_line(value, encoded)


def _spliced_line(value: dict[str, Any], encoded: Mapping[str, str]) -> str:
    """The JSON text of `value`, the members named in `encoded` as their given text, last."""
    head = _JSON_LINE({k: v for k, v in value.items() if k not in encoded})
    members = ", ".join([_JSON_STRING(name) + ": " + text for name, text in encoded.items()])
    return (head[:-1] + ", " if len(head) > 2 else "{") + members + "}"


# json_line's encoder, made once (json.dumps with options builds a new one each call, and a
# transcript encodes a few events every model call): json_text's, so spliced text matches.
_JSON_LINE = encode_json_text
# A member's name as that encoder writes a string (non-ASCII as it is).
_JSON_STRING = json.encoder.encode_basestring


def tail(text: str, limit: int = 500, extra_secrets: Iterable[str] = ()) -> str:
    """Return the scrubbed last `limit` characters of `text`, prefixed with "…" when it was cut.

    The whole text is scrubbed before cutting: cutting first could leave half a secret that no
    pattern recognises any more.
    """
    cleaned = scrub(text, extra_secrets)
    if limit <= 0:
        return "…" if cleaned else ""
    if len(cleaned) <= limit:
        return cleaned
    return "…" + cleaned[-limit:]


def scrub_exception(exc: BaseException, extra_secrets: Iterable[str] = ()) -> BaseException:
    """Mask secrets, in place, in the message of `exc` and of every exception chained to it.

    Task logs render the whole chain (`raise ... from exc` included) and alerts quote the
    message, so an endpoint's error body that echoes a key must be cleaned at every link.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        try:
            current.args = tuple(scrub(a, extra_secrets) if isinstance(a, str) else a for a in current.args)
        except (AttributeError, TypeError):  # an exception class with read-only args keeps them
            pass
        message = getattr(current, "message", None)  # openai's errors keep their text here too
        if isinstance(message, str):
            try:
                current.message = scrub(message, extra_secrets)  # type: ignore[attr-defined]
            except (AttributeError, TypeError):
                pass
        current = current.__cause__ or current.__context__
    return exc


@contextmanager
def scrubbed_errors(extra_secrets: Iterable[str] = ()) -> Iterator[None]:
    """Whatever escapes the block leaves with its message chain scrubbed (see scrub_exception)."""
    try:
        yield
    except BaseException as exc:
        scrub_exception(exc, extra_secrets)
        raise
