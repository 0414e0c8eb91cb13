"""The reconciliation kinds' parse-time face: the spec section's review band, who is due, and the
model's side left to the run-time half until a task asks for it."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta

import pytest
from pydantic import ValidationError

from agentjobs.jobs.kinds.reconcile_face import LINK_ABOVE, MatchSettings


def test_the_review_band_cannot_reach_the_link_threshold():
    with pytest.raises(ValidationError, match=r"review\.min_confidence"):
        MatchSettings.model_validate({"review": {"min_confidence": LINK_ABOVE + 0.01}})
    with pytest.raises(ValidationError, match="reviw"):
        MatchSettings.model_validate({"reviw": {}})  # a misspelt key is refused, not ignored
    assert MatchSettings().review.enabled is False


def _probe(kind_module: str) -> str:
    """In a fresh process: what the face answers before and after a task asks for its model side."""
    run_half = f"{kind_module}_run"
    code = (
        "import sys\n"
        "from datetime import datetime, UTC\n"
        "from agentjobs.jobs.kinds.base import Team\n"
        "from agentjobs.jobs.kinds.capabilities import Applies, Documents, Reviewed\n"
        f"from {kind_module} import KIND\n"
        "review = {'review': {'enabled': True, 'timeout_minutes': 30}}\n"
        "settings = KIND.settings_model.model_validate(review)\n"
        "team = Team(id='t', name='T', timezone='Europe/Berlin', currency='EUR')\n"
        "when = datetime(2026, 11, 28, 6, tzinfo=UTC)\n"
        "period = KIND.period(team, when, settings).key\n"
        "print(KIND.due(team, when, settings), period, KIND.review_timeout(settings))\n"
        "print(isinstance(KIND, Applies), isinstance(KIND, Reviewed), isinstance(KIND, Documents))\n"
        "try:\n    KIND.no_such_name\nexcept AttributeError as exc:\n    print(exc)\n"
        f"print({run_half!r} in sys.modules)\n"
        "print(KIND.wording.noun)\n"
        f"print({run_half!r} in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize(
    ("kind_module", "noun", "face"),
    [
        ("agentjobs.jobs.kinds.reconciliation", "receipt", "ReconciliationKind"),
        ("agentjobs.jobs.kinds.invoice_reconciliation", "payment", "InvoiceReconciliationKind"),
    ],
)
def test_a_face_answers_the_parse_alone_and_loads_its_run_time_half_on_first_ask(kind_module, noun, face):
    lines = _probe(kind_module).splitlines()
    # 07:00 in Berlin is the default local_hour; the 90 days up to yesterday; the review waits 30 min.
    assert lines[0] == f"True 2026-11-27 {timedelta(minutes=30)}"
    assert lines[1] == "True True False"  # capability checks load nothing
    assert lines[2] == f"'{face}' object has no attribute 'no_such_name'"
    assert lines[3:] == ["False", noun, "True"]
