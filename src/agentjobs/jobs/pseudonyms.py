"""Personal data stays home: the model sees pseudonyms, the delivered artifact the real values.

A team's snapshot is shown to the model through `pseudonymize`: every value of a column its
input marks personal (jobs/inputs.py Column.personal, or the spec's `personal:` list) becomes
a token such as `Customer-3`, and free text in the other text columns is scanned with the PII
detector (jobs/pii.py), each e-mail, phone, card or IBAN found becoming a token (`Email-2`).
Members' names and e-mails and the team's own addresses are tokens too. The same value is the
same token everywhere in one snapshot, so the model can still tell customers apart, group
them and say "Customer-3 owes the most".

Tokens are numbered in the order the snapshot holds the values (tables, rows, columns as
stored), so a retry of the same snapshot asks the very same question and the replay cache
matches: no key, nothing stored besides the snapshot. A number whose token already occurs as
text in the snapshot is skipped, so a token never collides with a real value and `restore`
is exact.

`restore` puts the real values back into what the model wrote, before the kind renders it;
the kind escapes them as it escapes any model text (jobs/markdown_text.py). A token that maps
to nothing (the model invented `Customer-99`) is left as it is: it names nobody, and a kind
whose check compares names with the snapshot (anomaly_flags, compliance_report) refuses it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from agentjobs.jobs.inputs import Input
from agentjobs.jobs.kinds.base import TeamSnapshot
from agentjobs.jobs.pii import find_spans

# What a token looks like: a capitalised label, a dash, a number; not inside a longer word.
TOKEN = re.compile(r"(?<![\w-])[A-Z][A-Za-z]*-[1-9][0-9]*(?![\w-])")
# What a detected span becomes, by the detector's kind.
_FOUND_LABEL = {"email": "Email", "phone": "Phone", "card": "Card", "iban": "Iban"}


def label_of(input_name: str, column: str) -> str:
    """The token's label for a column: `customer_name` -> Customer, `name` of `vendors` -> Vendor,
    `payer_iban` -> PayerIban. Letters only, so it stays one word the model can repeat."""
    if column == "name":
        base = input_name[:-1] if input_name.endswith("s") else input_name
    else:
        base = column.removesuffix("_name")
    label = "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z]+", base) if part)
    return label or "Value"


@dataclass
class Pseudonyms:
    """The token table of one snapshot: real value <-> token."""

    avoid: str = ""  # the snapshot as text: a token found in it is not handed out
    tokens: dict[str, str] = field(default_factory=dict)  # real value -> token
    values: dict[str, str] = field(default_factory=dict)  # token -> real value
    _counters: dict[str, int] = field(default_factory=dict)

    def token(self, value: str, label: str) -> str:
        """`value`'s token; the first label a value is met under names it."""
        known = self.tokens.get(value)
        if known is not None:
            return known
        n = self._counters.get(label, 0)
        while True:
            n += 1
            candidate = f"{label}-{n}"
            if not re.search(rf"(?<![\w-]){re.escape(candidate)}(?![\w-])", self.avoid):
                break
        self._counters[label] = n
        self.tokens[value] = candidate
        self.values[candidate] = value
        return candidate

    def text(self, value: str) -> str:
        """Free text with each e-mail, phone, card and IBAN the detector finds replaced by a token."""
        spans = find_spans(value)
        for span in reversed(spans):  # from the end, so earlier offsets stay right
            found = value[span.start : span.end]
            value = value[: span.start] + self.token(found, _FOUND_LABEL[span.kind]) + value[span.end :]
        return value

    def restore(self, value: Any) -> Any:
        """`value` (the model's answer: strings, lists, dicts, keys too) with every known token
        replaced by its real value; an unknown token stays as written."""
        if isinstance(value, str):
            return TOKEN.sub(lambda m: self.values.get(m.group(0), m.group(0)), value)
        if isinstance(value, list):
            return [self.restore(item) for item in value]
        if isinstance(value, dict):
            return {self.restore(k): self.restore(v) for k, v in value.items()}
        return value


def _free_text(name: str, input_: Input | None) -> bool:
    """Whether a column's strings are free text to scan: text the contract does not pin down.
    Ids and coded values (a currency, a time zone) are left alone: they are keys, not prose."""
    if name == "id" or name.endswith("_id"):
        return False
    column = input_.column(name) if input_ else None
    return column is None or (column.type == "text" and column.check is None)


def pseudonymize(
    snapshot: TeamSnapshot, inputs: Iterable[Input], personal: Mapping[str, Iterable[str]]
) -> tuple[TeamSnapshot, Pseudonyms]:
    """The snapshot as the model may see it, and the table that undoes it.

    `personal` is input name -> its personal columns (inputs.personal_columns). The snapshot
    given is not changed: render and check keep reading the real one.
    """
    declared = {i.name: i for i in inputs}
    marked = {name: frozenset(columns) for name, columns in personal.items()}
    names = Pseudonyms(avoid=snapshot.model_dump_json())
    tables: dict[str, list[dict[str, Any]]] = {}
    for table, rows in snapshot.tables.items():
        input_ = declared.get(table)
        own = marked.get(table, frozenset())
        label = {column: label_of(table, column) for column in own}
        masked_rows = []
        for row in rows:
            masked: dict[str, Any] = {}
            for column, value in row.items():
                if not isinstance(value, str) or not value:
                    masked[column] = value
                elif column in own:
                    masked[column] = names.token(value, label[column])
                elif _free_text(column, input_):
                    masked[column] = names.text(value)
                else:
                    masked[column] = value
            masked_rows.append(masked)
        tables[table] = masked_rows
    # Built without validation: a member's e-mail is a token now, no address.
    members = [
        member.model_copy(
            update={"name": names.token(member.name, "Member"), "email": names.token(member.email, "Email")}
        )
        for member in snapshot.members
    ]
    team = snapshot.team.model_copy(
        update={"email_list": [names.token(a, "Email") for a in snapshot.team.email_list]}
    )
    names.avoid = ""  # no longer needed, and it holds the real values
    return snapshot.model_copy(update={"tables": tables, "members": members, "team": team}), names
