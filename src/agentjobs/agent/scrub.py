"""Masking of secrets in text that leaves the process (logs, error messages, XCom, notifications).

Model replies and tool output are quoted in error messages so that a failed unattended run can be
understood from its log alone; anything that looks like a credential is replaced by `***` first.
The patterns aim at well-known token formats and at `key = value` shapes whose key names a secret,
so ordinary prose, paths and JSON results pass through unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

MASK = "***"

# Literal secrets shorter than this are skipped: masking every "abc" or "1" in a text would
# destroy it while protecting nothing.
MIN_SECRET_LEN = 4

# A token must not start in the middle of a longer word ("task-..." is not an OpenAI key).
_START = r"(?<![A-Za-z0-9_-])"

# Self-identifying token formats: the whole match is replaced.
_TOKEN_PATTERNS: tuple[re.Pattern[str], ...] = (
    # OpenAI-style keys, including sk-proj-... and sk-svcacct-... (the suffix allows - and _).
    re.compile(_START + r"sk-[A-Za-z0-9_-]{16,}"),
    # GitHub classic tokens and fine-grained personal access tokens.
    re.compile(_START + r"gh[pousr]_[A-Za-z0-9]{20,}"),
    re.compile(_START + r"github_pat_[A-Za-z0-9_]{20,}"),
    # Slack bot/user/app tokens.
    re.compile(_START + r"xox[abprs]-[A-Za-z0-9-]{10,}"),
    re.compile(_START + r"xapp-[A-Za-z0-9-]{10,}"),
    # AWS access key ids (long-term AKIA, temporary ASIA).
    re.compile(r"(?<![A-Z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Z0-9])"),
)

# `Authorization: Bearer <value>` (also Basic and token): keep the header and the scheme, mask the value.
_AUTH_HEADER = re.compile(
    r"(?i)(\bauthorization[\"']?[ \t]*[:=][ \t]*[\"']?(?:bearer|basic|token)[ \t]+)[^\s\"',;]+"
)
# A bare long bearer token without the header name, as in curl command lines copied into a reply.
_BARE_BEARER = re.compile(r"(\bBearer[ \t]+)[A-Za-z0-9._~+/=-]{16,}")

# `key: value` / `key=value` / `"key": "value"` where the key names a secret. The key may carry a
# prefix (OPENAI_API_KEY, db_password, aws_secret_access_key). The separator and the value must
# be on the same line, so a heading like "Password:" followed by a newline masks nothing.
_SECRET_KEY = (
    r"[A-Za-z0-9_.-]*?"
    r"(?:api[_-]?key|secret[_-]?access[_-]?key|access[_-]?key|secret[_-]?key|client[_-]?secret"
    r"|private[_-]?key|secret|password|passwd|token)"
)
_KEY_VALUE = re.compile(
    r"(?i)(?<![A-Za-z0-9_.-])"
    rf"(?P<key>[\"']?{_SECRET_KEY}[\"']?[ \t]*[:=][ \t]*)"
    r"(?:\"[^\"\n]+\"|'[^'\n]+'|[^\s,;&\"'}\]]+)"
)

# Credentials inside URLs: scheme://user:password@host -> scheme://***@host. The password part is
# greedy up to the last @ before the path, since passwords may themselves contain @.
_URL_CREDENTIALS = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)[^\s/?#@:]+:[^\s/?#]*@")


def scrub(text: str, extra_secrets: Iterable[str] = ()) -> str:
    """Return `text` with every known secret shape and every literal in `extra_secrets` masked."""
    # Literals first and longest first, so a secret containing another one is masked whole.
    literals = sorted({s for s in extra_secrets if s and len(s) >= MIN_SECRET_LEN}, key=len, reverse=True)
    if literals:
        text = re.sub("|".join(re.escape(s) for s in literals), MASK, text)
    # Key-value and header shapes before bare tokens: they keep the key visible, which tells the
    # reader which credential was there.
    text = _URL_CREDENTIALS.sub(lambda m: m.group("scheme") + MASK + "@", text)
    text = _AUTH_HEADER.sub(lambda m: m.group(1) + MASK, text)
    text = _BARE_BEARER.sub(lambda m: m.group(1) + MASK, text)
    text = _KEY_VALUE.sub(_mask_value, text)
    for pattern in _TOKEN_PATTERNS:
        text = pattern.sub(MASK, text)
    return text


def _mask_value(match: re.Match[str]) -> str:
    value = match.group(0)[len(match.group("key")) :]
    # Keep the quotes of a quoted value so masked JSON stays readable as JSON.
    if value[:1] in ("'", '"'):
        return match.group("key") + value[0] + MASK + value[0]
    return match.group("key") + MASK


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
