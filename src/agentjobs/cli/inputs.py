"""`agentjobs inputs [KIND]`: the column contracts to map your own schema onto, read from the code.

For each kind (or the one named): each input it reads (what it is, the binds its query may use,
what a mapped table or view must expose besides, and a table of its columns), then each target
it writes (its columns, which a mapping must give, which values it holds once). Without a KIND
the sql source's own inputs (teams, users, team_targets), which every business kind reads,
come first. Plain text for the terminal; `--markdown` prints the Markdown of docs/inputs.md:

    agentjobs inputs --markdown > docs/inputs.md
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from agentjobs.jobs.inputs import SOURCE_INPUTS, Input, kind_inputs
from agentjobs.jobs.writes import WriteTarget, kind_writes

REGENERATE = "agentjobs inputs --markdown > docs/inputs.md"
INTRO = (
    "Generated from the kinds' declarations (`inputs` and `writes` on each kind; "
    "src/agentjobs/jobs/inputs.py and writes.py) by `" + REGENERATE + "`: do not edit it by hand. "
    "How a spec maps an input onto your tables (`sources.sql.inputs`) and a write target onto "
    "yours (`sources.sql.writes`): [Your own database](your-own-database.md). "
    "`agentjobs check JOB` compares a mapping with these contracts before a job is enabled."
)
SOURCE_TITLE = "The sql source: teams and members (every business kind)"


class Doc:
    """Lines of plain text or Markdown, written through the same few calls."""

    def __init__(self, markdown: bool) -> None:
        self.markdown = markdown
        self.lines: list[str] = []

    def heading(self, text: str, level: int) -> None:
        if self.markdown:
            self.lines += [f"{'#' * level} {text}", ""]
        else:
            rule = "=" if level <= 2 else "-"
            self.lines += [text, rule * len(text), ""]

    def para(self, text: str) -> None:
        self.lines += [text, ""]

    def code(self, name: str) -> str:
        return f"`{name}`" if self.markdown else name

    def table(self, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
        if self.markdown:
            cells = [[c.replace("|", "\\|") for c in row] for row in (header, *rows)]
            self.lines += [f"| {' | '.join(cells[0])} |", f"|{'|'.join('---' for _ in header)}|"]
            self.lines += [f"| {' | '.join(row)} |" for row in cells[1:]]
        else:
            widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
            for row in (header, *rows):
                self.lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        self.lines.append("")

    def text(self) -> str:
        while self.lines and not self.lines[-1]:
            self.lines.pop()
        return "\n".join(self.lines) + "\n"


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def describe_input(doc: Doc, input_: Input) -> None:
    doc.heading(f"Input {doc.code(input_.name)}", 3)
    binds = ", ".join(doc.code(f":{b}") for b in input_.binds) or "none"
    lines = [f"{input_.meaning[:1].upper()}{input_.meaning[1:]}.", f"Binds a mapped query may use: {binds}."]
    if not input_.default_sql:
        lines.append("Optional: read only when the spec maps it (it has no default query).")
    if input_.filter_columns:
        # A `table:` mapping is filtered on these, so a view must expose them beside the contract's.
        extra = ", ".join(doc.code(c) for c in input_.filter_columns)
        lines.append(
            f"Mapped as a table or view (`table:`), it must also expose {extra}: its rows are read "
            f"{doc.code('WHERE ' + input_.table_where)}."
        )
    doc.para(" ".join(lines) if doc.markdown else "\n".join(lines))
    rows = []
    for c in input_.columns:
        personal = _yes(c.personal) if not c.needed_as_is else f"never: {c.needed_as_is}"
        rows.append([doc.code(c.name), c.type, _yes(c.nullable), c.check or "", personal, c.meaning])
    doc.table(["column", "type", "nullable", "check", "personal", "meaning"], rows)


def describe_target(doc: Doc, target: WriteTarget) -> None:
    doc.heading(f"Write target {doc.code(target.name)}", 3)
    lines = [f"{target.meaning[:1].upper()}{target.meaning[1:]}."]
    if target.unique:
        lines.append(f"Unique: {', '.join(doc.code(u) for u in target.unique)} (each value written once).")
    if target.group:
        group = ", ".join(doc.code(g) for g in target.group)
        lines.append(f"Written in groups of rows sharing {group}, each group once; map it with `table:`.")
    if target.ledger:
        lines.append("Mapped, agentjobs keeps its ledger of judged records beside it (its own schema).")
    doc.para(" ".join(lines) if doc.markdown else "\n".join(lines))
    rows = [[doc.code(c.name), c.type, _yes(c.required), c.meaning] for c in target.columns]
    doc.table(["column", "type", "required", "meaning"], rows)


def describe_kind(doc: Doc, name: str, kind: Any) -> None:
    doc.heading(f"Kind {doc.code(name)}", 2)
    inputs, targets = kind_inputs(kind), kind_writes(kind)
    if not inputs and not targets:
        doc.para("It reads no business-database input and writes no table of yours.")
        return
    for input_ in inputs:
        describe_input(doc, input_)
    if not targets:
        doc.para("It writes no table of yours.")
    for target in targets:
        describe_target(doc, target)


def contracts(kind_names: Sequence[str], markdown: bool, with_source: bool) -> str:
    """The contracts of `kind_names` (and the sql source's own inputs first) as text or Markdown."""
    from agentjobs.jobs.kinds.registry import KindError, kind

    doc = Doc(markdown)
    if markdown:
        doc.heading("Inputs and write targets of the kinds", 1)
        doc.para(INTRO)
    if with_source:
        doc.heading(SOURCE_TITLE, 2)
        for input_ in SOURCE_INPUTS:
            describe_input(doc, input_)
    for name in kind_names:
        try:
            found = kind(name)
        except KindError as exc:  # an installed kind that does not load: say so, list the others
            doc.heading(f"Kind {doc.code(name)}", 2)
            doc.para(f"It did not load: {exc}")
            continue
        describe_kind(doc, name, found)
    return doc.text()


def list_inputs(args: argparse.Namespace) -> int:
    from agentjobs.jobs.kinds.registry import known, names

    if args.kind is not None and not known(args.kind):
        print(f"agentjobs: unknown kind {args.kind!r}; the kinds: {', '.join(names())}", file=sys.stderr)
        return 2
    chosen = [args.kind] if args.kind is not None else list(names())
    sys.stdout.write(contracts(chosen, args.markdown, with_source=args.kind is None))
    if args.kind is not None:
        print(
            "\nEvery business kind also reads the sql source's teams and users (and the optional "
            "team_targets): `agentjobs inputs` lists them."
        )
    return 0
