"""YAML for files a person reviews (job specs, SKILL.md frontmatter): a key given twice is an error.

PyYAML keeps the last of two equal keys without a word, so a second `channels:` or `caps:` far
below the first would decide where the mail goes or what a run may cost, unseen by whoever reads
the first. Everything else is safe_load's: the same types, the same errors.
"""

from __future__ import annotations

from typing import Any

import yaml

# libyaml's parser when PyYAML was built with it (the DAG processor loads every spec on each
# parse); the constructor, where the check lives, is Python's SafeConstructor either way.
_SAFE_LOADER: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_MERGE_TAG = "tag:yaml.org,2002:merge"


class DuplicateKeyError(yaml.YAMLError):
    """One mapping holds the same key twice; lines are 1-based lines of the file."""

    def __init__(self, key: Any, first_line: int, second_line: int) -> None:
        self.key = key
        self.first_line = first_line
        self.second_line = second_line
        super().__init__(
            f"key {key!r} is given twice, on line {first_line} and on line {second_line} "
            "(YAML would silently keep the last); keep one of them"
        )


class NoSuchDayError(yaml.YAMLError):
    """A plain scalar YAML reads as a date (2026-02-30, 2026-13-01) names no day of the calendar.

    safe_load raises a bare ValueError there ("day is out of range for month"), which a caller
    catching YAML errors misses; this one names the line and the value.
    """

    def __init__(self, value: str, line: int, reason: str) -> None:
        self.value = value
        self.line = line
        super().__init__(f"line {line}: {value!r} is no such day ({reason}); write a real date as YYYY-MM-DD")


class _UniqueKeyLoader(_SAFE_LOADER):  # type: ignore[misc, valid-type]
    line_offset = 0  # lines of the file before the YAML text (a frontmatter's opening '---')

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        first_nodes: dict[Any, yaml.Node] = {}
        for key_node, _ in node.value:
            if key_node.tag == _MERGE_TAG:  # `<<: *defaults` then overriding a key is the point
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                first = first_nodes.setdefault(key, key_node)
            except TypeError:  # an unhashable key: the constructor below refuses it with its message
                continue
            if first is not key_node:
                raise DuplicateKeyError(
                    key,
                    first.start_mark.line + 1 + self.line_offset,
                    key_node.start_mark.line + 1 + self.line_offset,
                )
        return super().construct_mapping(node, deep=deep)

    def construct_checked_timestamp(self, node: yaml.ScalarNode) -> Any:
        try:
            return self.construct_yaml_timestamp(node)
        # AttributeError: an explicit `!!timestamp` on text that is no timestamp at all.
        except (ValueError, AttributeError) as exc:
            reason = str(exc) if isinstance(exc, ValueError) else "not a date"
            line = node.start_mark.line + 1 + self.line_offset
            raise NoSuchDayError(str(node.value), line, reason) from None


_UniqueKeyLoader.add_constructor("tag:yaml.org,2002:timestamp", _UniqueKeyLoader.construct_checked_timestamp)


def load_unique(text: str, line_offset: int = 0) -> Any:
    """safe_load of `text`, refusing any mapping with a key given twice (DuplicateKeyError).

    `line_offset`: how many lines of the file come before `text`, so messages name file lines.
    """
    loader = _UniqueKeyLoader(text)
    loader.line_offset = line_offset
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()
