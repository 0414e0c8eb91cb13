"""The `agentjobs` command's arguments: what each subcommand takes and what its help says."""

from __future__ import annotations

import pytest

from agentjobs.cli import main


def test_the_help_says_where_init_writes_by_default(capsys):
    with pytest.raises(SystemExit):
        main(["init", "--help"])
    assert "default: Airflow's configured [core] dags_folder" in " ".join(capsys.readouterr().out.split())
