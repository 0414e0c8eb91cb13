"""Time zone names: IANA names of places pass; names that load but mean no place, or a
different place on each host, are refused with the reason."""

from __future__ import annotations

import pytest

from agentjobs.jobs.zones import zone_problem


@pytest.mark.parametrize("name", ["Europe/Berlin", "UTC", "America/Argentina/Buenos_Aires", "Etc/GMT+5"])
def test_place_names_are_usable(name):
    assert zone_problem(name) is None


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("localtime", "differs between hosts"),
        ("right/UTC", "leap-second"),
        ("Factory", "not a place"),
        ("posixrules", "not a place"),
        ("Europe", "not in the tz database"),  # a folder of the database: zoneinfo raises OSError
        ("Europe/Berlim", "not in the tz database"),
        ("../../etc/passwd", "not in the tz database"),
        ("", "not a time zone name"),
        (5, "not a time zone name"),
    ],
)
def test_names_that_mean_no_place_or_a_different_one_on_each_host_are_refused(name, reason):
    assert reason in (zone_problem(name) or "")
