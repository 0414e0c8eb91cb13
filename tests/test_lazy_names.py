"""A name forwarded to another module loads that module only when it is first asked for."""

from __future__ import annotations

import subprocess
import sys

import pytest

from agentjobs.lazy_names import forwarded


def test_a_forwarded_name_comes_from_the_target_and_an_unknown_one_is_an_attribute_error():
    lookup = forwarded("somewhere.face", "json.decoder", frozenset({"JSONDecodeError"}))
    import json.decoder

    assert lookup("JSONDecodeError") is json.decoder.JSONDecodeError
    with pytest.raises(AttributeError, match=r"module 'somewhere\.face' has no attribute 'scanstring'"):
        lookup("scanstring")  # in the target, but not forwarded


def test_a_kind_module_loads_its_run_time_half_on_the_first_run_time_name_only():
    probe = (
        "import sys\n"
        "from agentjobs.jobs.kinds import weekly_insights\n"
        "assert 'agentjobs.jobs.kinds.weekly_insights_run' not in sys.modules\n"
        "weekly_insights.Weeks\n"
        "assert 'agentjobs.jobs.kinds.weekly_insights_run' in sys.modules\n"
        "try:\n    weekly_insights.no_such_name\nexcept AttributeError:\n    print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_the_run_plans_type_loads_when_first_asked_for_from_the_kinds_or_the_operators():
    probe = (
        "import sys\n"
        "from agentjobs.jobs.kinds import base, reconciliation\n"
        "import agentjobs.operators.agent as agent\n"
        "assert 'agentjobs.agent.plan' not in sys.modules\n"
        "from agentjobs.agent.plan import RunPlan\n"
        "assert base.KindPlan is RunPlan and agent.RunPlan is RunPlan\n"
        "assert reconciliation.Work.__module__ == 'agentjobs.jobs.kinds.reconciliation_run'\n"
        "try:\n    base.NoSuchPlan\nexcept AttributeError:\n    print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
