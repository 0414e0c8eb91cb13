"""`agentjobs inputs [KIND]`: every input, column and write target a kind declares, as text or
Markdown, and docs/inputs.md equal to what the code declares."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from agentjobs.cli import main
from agentjobs.cli.inputs import REGENERATE
from agentjobs.jobs.inputs import kind_inputs
from agentjobs.jobs.kinds.registry import SHIPPED, kind
from agentjobs.jobs.writes import kind_writes

DOC = Path(__file__).resolve().parents[2] / "docs" / "inputs.md"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["inputs", *args])
    out, err = capsys.readouterr()
    return code, out, err


def row_of(out: str, first: str) -> list[str]:
    """The cells of the first plain table row that starts with `first` (split on 2+ spaces: an
    empty cell merges with its neighbours' padding)."""
    line = next(line for line in out.splitlines() if line.split(" ", 1)[0] == first)
    return re.split(r"\s{2,}", line.strip())


def test_a_kind_names_every_input_column_bind_and_write_target_it_declares(capsys) -> None:
    for name in ("compliance_report", "reconciliation"):
        code, out, _ = run(capsys, name)
        assert code == 0
        found = kind(name)
        for input_ in kind_inputs(found):
            assert f"Input {input_.name}\n" in out
            assert ", ".join(f":{b}" for b in input_.binds) in out
            section = out.split(f"Input {input_.name}\n", 1)[1]
            for column in input_.columns:
                assert f"\n{column.name} " in section, (input_.name, column.name)
        for target in kind_writes(found):
            assert f"Write target {target.name}\n" in out
            section = out.split(f"Write target {target.name}\n", 1)[1]
            assert all(f"\n{c.name} " in section for c in target.columns)
        assert "Input teams" not in out  # the source's own inputs only in the full listing
    code, out, _ = run(capsys, "compliance_report")
    unmatched = out.split("Input unmatched\n", 1)[1]
    # A receipt OCR could not read: its amount may be NULL; an invoice's may not.
    assert row_of(unmatched, "amount_cents")[:3] == ["amount_cents", "integer", "yes"]
    unpaid = out.split("Input unpaid_invoices\n", 1)[1]
    assert row_of(unpaid, "amount_cents")[:3] == ["amount_cents", "integer", "no"]
    assert row_of(unpaid, "customer_name")[:4] == ["customer_name", "text", "yes", "yes"]  # personal
    assert "It writes no table of yours." in out
    code, out, _ = run(capsys, "reconciliation")
    assert "Unique: receipt_id, transaction_id (each value written once)." in out
    assert row_of(out, "receipt_id")[:3] == ["receipt_id", "text", "yes"]
    assert row_of(out, "confidence")[:3] == ["confidence", "decimal", "no"]


def test_without_a_kind_the_teams_and_users_come_first_then_every_kind(capsys) -> None:
    code, out, _ = run(capsys)
    assert code == 0
    assert out.index("Input teams") < out.index("Input users") < out.index("Input team_targets")
    assert out.index("Input team_targets") < out.index("Kind digest")
    assert all(f"Kind {name}\n" in out for name in SHIPPED)
    digest = out.split("Kind digest\n", 1)[1].split("Kind ", 1)[0]
    assert "reads no business-database input and writes no table of yours" in digest


def test_an_unknown_kind_exits_2_naming_the_known_ones(capsys) -> None:
    code, out, err = run(capsys, "compliance")
    assert code == 2 and out == ""
    assert "unknown kind 'compliance'" in err
    assert all(name in err for name in SHIPPED)


def test_markdown_prints_a_table_per_input_and_target(capsys) -> None:
    code, out, _ = run(capsys, "enrichment", "--markdown")
    assert code == 0
    assert out.startswith("# Inputs and write targets of the kinds\n")
    assert "## Kind `enrichment`" in out and "### Write target `enrichment`" in out
    assert out.count("| column | type | nullable | check | personal | meaning |") == len(
        kind_inputs(kind("enrichment"))
    )
    assert "| column | type | required | meaning |\n|---|---|---|---|" in out
    # A column the kind needs as it is cannot be personal, and the table says why.
    assert "| `name` | text | yes |  | never: its lookup URL is built from it" in out


def test_docs_inputs_md_is_what_the_code_declares(capsys) -> None:
    code, out, _ = run(capsys, "--markdown")
    assert code == 0
    written = DOC.read_text(encoding="utf-8") if DOC.is_file() else ""
    assert written == out, f"docs/inputs.md differs from the kinds' declarations; regenerate it: {REGENERATE}"
