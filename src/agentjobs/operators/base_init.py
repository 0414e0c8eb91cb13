"""`init_base`: what our operators' own __init__ calls instead of `super().__init__` (BaseOperator's).

Airflow wraps every __init__ of an operator's class chain in `apply_defaults`, and each wrapper
merges the DAG's default_args and deep-copies the DAG's Params again. A task of ours runs two:
its own class's and BaseOperator's. The outer one has already done the merge and passes its
result down (`default_args`, `params`), so the inner one only repeats it; on every DAG parse that
repeat was ~60 µs a task (bench/dag_parse.py). `init_base` does what BaseOperator's wrapper does
with what the outer one handed down: BaseOperator's own arguments (retries, retry_delay, owner,
on_failure_callback, ...) taken from `default_args` where the task does not give them, the
arguments kept for serialization, the trigger check. It must only be called from an __init__
that Airflow wrapped (any operator class's own), whose next base in the chain is BaseOperator.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseOperator

# BaseOperator.__init__ as written, and the names of its arguments (the wrapper fills exactly
# these from default_args). Without Airflow's wrapper (another Airflow), BaseOperator's as it is.
_INIT: Any = getattr(BaseOperator.__init__, "__wrapped__", None)


def _argument_names(function: Any) -> tuple[str, ...]:
    code = function.__code__
    return tuple(n for n in code.co_varnames[: code.co_argcount + code.co_kwonlyargcount] if n != "self")


_ARGS: tuple[str, ...] = _argument_names(_INIT) if _INIT is not None else ()


def init_base(task: BaseOperator, **kwargs: Any) -> None:
    """BaseOperator.__init__ of `task` with the defaults the calling __init__'s wrapper merged."""
    if _INIT is None or not hasattr(task, "_BaseOperator__init_kwargs"):
        BaseOperator.__init__(task, **kwargs)  # not called from a wrapped __init__: the full path
        return
    default_args = kwargs.pop("default_args", None) or {}
    for name in _ARGS:
        if name not in kwargs and name in default_args:
            kwargs[name] = default_args[name]
    _INIT(task, **kwargs, default_args=default_args)
    # As the wrapper does: serialization compares a task's values with the arguments it was given.
    task._BaseOperator__init_kwargs.update(kwargs)  # type: ignore[attr-defined]
    if hasattr(task, "_validate_start_from_trigger_kwargs"):  # Airflow 3.3's; 3.2 has no trigger check
        task._validate_start_from_trigger_kwargs()
