"""agentjobs.lazy_pattern: a pattern compiled on first use behaves as re.compile's."""

from __future__ import annotations

import re

import pytest

from agentjobs.lazy_pattern import lazy


def test_a_lazy_pattern_matches_substitutes_and_keeps_its_flags_as_a_compiled_one():
    pattern, text = r"(?P<word>t\w+)", "Tea, then toast; TOAST"
    for flags in (0, re.IGNORECASE):
        compiled, deferred = re.compile(pattern, flags), lazy(pattern, flags)
        assert deferred.findall(text) == compiled.findall(text)
        assert deferred.sub("*", text) == compiled.sub("*", text)
        assert deferred.search(text).group("word") == compiled.search(text).group("word")  # type: ignore[union-attr]
        assert deferred.fullmatch("toast") is not None and deferred.fullmatch("to ast") is None
    assert lazy(r"t\w+").sub("*", text) == "Tea, * *; TOAST"  # no flag: case counts


def test_a_broken_pattern_fails_when_first_used():
    deferred = lazy("(unclosed")
    with pytest.raises(re.error):
        deferred.search("x")
