"""``@task.agentjobs``: an agent task written as a function that returns its prompt.

The function runs when the task runs (it may read the context, XCom, its arguments); what it
returns is the prompt, sent as it is. Everything else is AgentOperator's, without a skill: the
caps, replay on retry, scrubbing, the transcript, and the result (the model's JSON as a dict)
as the task's XCom. The name is not common-ai's ``@task.agent``, so both providers install side
by side.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any, ClassVar

from airflow.sdk.bases.decorator import DecoratedOperator, TaskDecorator, task_decorator_factory
from airflow.sdk.definitions.context import context_merge

from agentjobs.operators.agent import AgentOperator
from agentjobs.operators.errors import PermanentTaskError

DECORATOR_NAME = "agentjobs"  # @task.agentjobs (get_provider_info()["task-decorators"])
PROMPT_PENDING = ""  # the prompt until the function has run: nothing for a DAG parse to render


class AgentjobsDecoratedOperator(DecoratedOperator, AgentOperator):
    """AgentOperator whose prompt is what `python_callable` returns when the task runs.

    The returned prompt is not rendered as a template: it may quote data (an upstream task's
    output, a record), and text that looks like ``{{ ... }}`` in data must reach the model as
    written, not run. Template the function's arguments instead.
    """

    # `prompt` is left out: see above. The function's arguments are rendered (op_args, op_kwargs).
    template_fields: Sequence[str] = (
        *DecoratedOperator.template_fields,
        *(name for name in AgentOperator.template_fields if name != "prompt"),
    )
    template_fields_renderers: ClassVar[dict[str, str]] = {
        **DecoratedOperator.template_fields_renderers,
        **AgentOperator.template_fields_renderers,
    }
    shallow_copy_attrs: Sequence[str] = (
        *DecoratedOperator.shallow_copy_attrs,
        *AgentOperator.shallow_copy_attrs,
    )
    custom_operator_name = f"@task.{DECORATOR_NAME}"

    def __init__(
        self,
        *,
        python_callable: Callable[..., Any],
        op_args: Collection[Any] | None = None,
        op_kwargs: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            python_callable=python_callable,
            op_args=op_args,
            op_kwargs=op_kwargs,
            prompt=PROMPT_PENDING,
            **kwargs,
        )

    def execute(self, context: Any) -> Any:
        context_merge(context, self.op_kwargs)
        prompt = self.python_callable(*self.op_args, **self.determine_kwargs(context))
        if not isinstance(prompt, str) or not prompt.strip():
            # The same function gives the same answer on a retry: fail now, without retrying.
            raise PermanentTaskError(
                f"the {self.custom_operator_name} function {self.python_callable.__name__!r} must "
                f"return the prompt as a non-empty string; it returned {_shown(prompt)}"
            )
        self.prompt = prompt
        return AgentOperator.execute(self, context)


def _shown(value: Any) -> str:
    if isinstance(value, str):
        return "an empty string"
    return f"a {type(value).__name__}"


def agentjobs_task(python_callable: Callable[..., Any] | None = None, **kwargs: Any) -> TaskDecorator:
    """Wrap a function that returns a prompt into an agent task (``@task.agentjobs(...)``).

    Takes AgentOperator's arguments, without ``skill`` and ``prompt``: ``system_prompt``,
    ``output_type`` (a pydantic model), ``tools`` (typed functions, Tools, toolsets, built-in
    names), ``caps``, ``llm_conn_id``, ``fallback_conn_ids``, ``model``, and any BaseOperator
    argument (``retries``, ...). The task's XCom is the result as a dict::

        @task.agentjobs(system_prompt="You triage invoices.", output_type=Triage, tools=[invoice])
        def triage(number: str) -> str:
            return f"Triage invoice {number}."
    """
    if "skill" in kwargs:
        raise TypeError(
            f"@task.{DECORATOR_NAME} writes the agent in the DAG: use system_prompt, not a skill "
            "(AgentOperator(skill=...) runs a skill folder)"
        )
    # The function's return annotation describes the prompt, not the result: unroll the result
    # into one XCom per field only when asked.
    kwargs.setdefault("multiple_outputs", False)
    return task_decorator_factory(
        python_callable=python_callable,
        decorated_operator_class=AgentjobsDecoratedOperator,
        **kwargs,
    )
