"""`agentjobs check` on each Ledgerly spec: every input of the kind and the teams/users, mapped with
YAML only onto Ledgerly's tables, matches its contract on the loaded database."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentjobs.cli import main
from tests.scenarios.ledgerly.conftest import SPECS

# `agentjobs check` runs in-process here: the session's metadata DB is set up first, so the
# command reads connections from it and does not leave Airflow pointed at its own output folder.
pytestmark = pytest.mark.usefixtures("airflow_db")

KINDS = {
    "weekly-insights.yaml": ("transactions",),
    "anomaly-flags.yaml": ("orders", "transactions"),
    "overdue-reminders.yaml": ("invoices",),
    "batch-notifications.yaml": ("candidates",),
    "compliance-report.yaml": ("transactions", "unpaid_invoices", "unmatched"),
    "reconciliation.yaml": ("receipts", "transactions"),
    "invoice-reconciliation.yaml": ("payments", "open_invoices"),
    "enrichment.yaml": ("customers",),
}


def test_the_folder_holds_a_spec_for_each_kind_mapped_so_far():
    assert sorted(p.name for p in SPECS.glob("*.yaml")) == sorted(KINDS)


@pytest.mark.parametrize("file", sorted(KINDS))
def test_check_passes_every_mapped_input(
    file: str, ledgerly_conn: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    # A day inside the generated data, so the kind's binds select rows whose values are checked.
    assert main(["check", str(SPECS / file), "--out", str(tmp_path / "o"), "--date", "2026-11-01"]) == 0
    out = capsys.readouterr().out
    for name in ("teams", "users", *KINDS[file]):
        assert f"ok    {name} (mapped)" in out, out
    assert "every input matches" in out
