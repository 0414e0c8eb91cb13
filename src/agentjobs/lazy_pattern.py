"""Regular expressions compiled on their first use, for modules every DAG parse imports.

The jobs DAG file imports the kinds and their text helpers (names, numbers, markdown, scrub)
on each parse, and compiling their patterns at import cost several ms of every parse
(bench/dag_parse.py) that never matches a string. `lazy(pattern)` stands in for
`re.compile(pattern)`: the first use of a method compiles the pattern, which is then reached
directly (the bound method is kept on the stand-in).
"""

from __future__ import annotations

import re
from typing import Any


class _LazyPattern:
    def __init__(self, pattern: str, flags: int) -> None:
        self._pattern = pattern
        self._flags = flags

    def __getattr__(self, name: str) -> Any:
        # Only called for names the instance lacks: the first use of each of the pattern's
        # methods, which is then kept on the instance (re.compile caches the compiled pattern).
        value = getattr(re.compile(self._pattern, self._flags), name)
        setattr(self, name, value)
        return value


def lazy(pattern: str, flags: int = 0) -> re.Pattern[str]:
    """`re.compile(pattern, flags)`, compiled when first used."""
    return _LazyPattern(pattern, flags)  # type: ignore[return-value]  # duck-typed: the methods used
