"""YAML for files a person reviews: a key given twice anywhere is refused naming the key and both
file lines; everything else loads as yaml.safe_load would."""

from __future__ import annotations

import pytest
import yaml

from agentjobs.agent.unique_yaml import DuplicateKeyError, load_unique

SPEC = """\
name: digest
channels:
  - slack
caps:
  max_iterations: 5
owner: ops
channels:
  - email
"""


def test_a_key_given_twice_names_the_key_and_both_lines():
    with pytest.raises(DuplicateKeyError) as err:
        load_unique(SPEC)
    assert (err.value.key, err.value.first_line, err.value.second_line) == ("channels", 2, 7)
    assert str(err.value) == (
        "key 'channels' is given twice, on line 2 and on line 7 "
        "(YAML would silently keep the last); keep one of them"
    )


def test_the_lines_are_the_files_when_the_yaml_starts_below_the_top():
    with pytest.raises(DuplicateKeyError, match="on line 3 and on line 8"):
        load_unique(SPEC, line_offset=1)  # a frontmatter's opening '---'


def test_a_nested_duplicate_is_refused_and_callers_catching_yaml_errors_still_catch_it():
    with pytest.raises(yaml.YAMLError, match="key 'max_cost_usd' is given twice, on line 2 and on line 4"):
        load_unique("caps:\n  max_cost_usd: 1\n  max_iterations: 5\n  max_cost_usd: 100\n")


def test_keys_that_load_to_the_same_value_are_the_same_key():
    with pytest.raises(DuplicateKeyError) as err:
        load_unique("1: one\n0x1: also one\n")
    assert err.value.key == 1


def test_the_same_key_in_different_mappings_and_a_merge_override_are_fine():
    text = "base: &b {model: m, timeout: 30}\nfast:\n  <<: *b\n  timeout: 5\nslow:\n  model: m\n"
    assert load_unique(text) == {
        "base": {"model": "m", "timeout": 30},
        "fast": {"model": "m", "timeout": 5},
        "slow": {"model": "m"},
    }


@pytest.mark.parametrize(
    "text",
    ["a: [1, {b: 2}]\nwhen: 2026-01-02\nn: 1.5\nflag: yes\n", "", "- just\n- a list\n", "plain"],
)
def test_everything_else_loads_as_safe_load_does(text):
    assert load_unique(text) == yaml.safe_load(text)


def test_unsafe_tags_are_refused_as_safe_load_refuses_them():
    with pytest.raises(yaml.constructor.ConstructorError):
        load_unique("!!python/object/apply:os.system ['true']\n")


@pytest.mark.parametrize("day", ["2026-13-01", "2026-02-30", "!!timestamp not-a-day"])
def test_a_day_that_does_not_exist_is_a_yaml_error_naming_its_line(day):
    # safe_load raises a bare ValueError ("month must be in 1..12"), which callers catching
    # YAML errors miss: one such spec took every job of the folder down with it.
    with pytest.raises(yaml.YAMLError, match=r"^line 3: .* is no such day"):
        load_unique(f"name: digest\nowner: ops\nstart_date: {day}\n", line_offset=0)
    with pytest.raises(yaml.YAMLError, match=r"^line 4: "):
        load_unique(f"name: digest\nowner: ops\nstart_date: {day}\n", line_offset=1)


def test_real_days_and_times_still_load_as_safe_load_loads_them():
    text = "day: 2024-02-29\nwhen: 2026-11-01T03:00:00Z\n"
    assert load_unique(text) == yaml.safe_load(text)
