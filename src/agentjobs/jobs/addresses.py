"""What a spec may put in a mail header or a message title: plain addresses, one-line text,
subject templates with only `{title}` and `{day}`.

Its own module, importing nothing of agentjobs, so the spec (jobs/spec.py) and the channels'
spec models (delivery/channels/) check these the same way without importing each other.
"""

from __future__ import annotations

import re
import string
from typing import Annotated

from pydantic import AfterValidator

# A plain address (no display name): what the SMTP hook puts in the To header as given.
EMAIL_RE = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*"
)
EMAIL_MAX = 254
SUBJECT_PLACEHOLDERS = ("title", "day")


def one_line(value: str) -> str:
    """Names that end up in mail headers and message titles: no CR, LF or other control characters."""
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
        raise ValueError("must be one line without control characters (no CR, LF or tab); remove them")
    return value


def is_plain_address(value: str) -> bool:
    """One address as the SMTP hook puts it in the To header: nothing before, after or around it."""
    return len(value) <= EMAIL_MAX and EMAIL_RE.fullmatch(value) is not None


def email_address(value: str) -> str:
    if not is_plain_address(value):
        raise ValueError(
            f"{value!r} is not a plain email address; write one like team@example.org "
            "(no display name, spaces, CR or LF)"
        )
    return value


def subject_template(value: str) -> str:
    """Only `{title}` and `{day}`: positional, attribute, index and nested fields are refused, since
    str.format would evaluate them (`{title.__class__}`) or fail at delivery, after the model ran."""
    one_line(value)
    allowed = ", ".join("{" + name + "}" for name in SUBJECT_PLACEHOLDERS)
    try:
        fields = [(name, conv, spec) for _, name, spec, conv in string.Formatter().parse(value)]
    except ValueError as exc:
        raise ValueError(
            f"not a valid template ({exc}); use {allowed}, and {{{{ }}}} for literal braces"
        ) from None
    for name, conversion, format_spec in fields:
        if name is None:
            continue
        if name not in SUBJECT_PLACEHOLDERS or conversion or format_spec:
            raise ValueError(
                f"placeholder {{{name}{'!' + conversion if conversion else ''}"
                f"{':' + format_spec if format_spec else ''}}} is not allowed; use only {allowed}, "
                "and {{ }} for literal braces"
            )
    return value


OneLine = Annotated[str, AfterValidator(one_line)]
EmailAddress = Annotated[str, AfterValidator(email_address)]
SubjectTemplate = Annotated[str, AfterValidator(subject_template)]
