"""A module's names that live in another module, loaded the first time one is asked for.

A kind keeps what a DAG parse needs in its own module and the rest in `<kind>_run.py`; callers
that import a run-time name from the kind's module (tests, scenarios, older code) get it through
the module's `__getattr__` (PEP 562), and a parse that never asks never loads the run-time half.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def forwarded(owner: str, target: str, names: frozenset[str]) -> Callable[[str], Any]:
    """A `__getattr__` for module `owner` that hands out `names` from module `target`."""

    def __getattr__(name: str) -> Any:
        if name in names:
            return getattr(importlib.import_module(target), name)
        raise AttributeError(f"module {owner!r} has no attribute {name!r}")

    return __getattr__
