"""The tracer an agent task's run reports to: Airflow's OpenTelemetry tracing, when it is on.

With `[traces] otel_on`, Airflow's task runner makes the task's span (`worker.<task_id>`) current
while `execute` runs, so the run's spans (agent/tracing.py) start under it: one trace shows the
DAG run, the task, the agent run, each model call and each tool call as one tree.

Where Airflow configured the process's tracer provider (airflow.settings does when `otel_on` is
set before Airflow is imported), the spans leave the way the task's own do. Where it did not (a
process that imported Airflow before tracing was turned on, such as a `dag.test()` session),
agentjobs makes one provider of its own for the process, exporting over OTLP/HTTP to Airflow's
traces endpoint: the standard `OTEL_EXPORTER_OTLP_*` variables, else `[traces] otel_host`,
`otel_port` and `otel_ssl_active`.

Off (the default), no tracer is made: the loop makes no span and nothing is sent.
`[agentjobs] trace_content = true` adds prompts, replies, tool arguments and results to the
spans, scrubbed of the run's secrets; without it they never leave.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import TracerProvider as ApiTracerProvider

    from agentjobs.agent.tracing import RunTracer

log = logging.getLogger(__name__)

CONTENT_OPTION = "trace_content"
# How long the end of a task waits for its spans to reach the endpoint: a trace that is late is
# better than a task held up by a slow collector.
FLUSH_TIMEOUT_MS = 5000

_own_provider: TracerProvider | None = None
_own_lock = threading.Lock()


def tracing_on() -> bool:
    from airflow.configuration import conf

    return conf.getboolean("traces", "otel_on", fallback=False)


def run_tracer(context: Any, agent_name: str, secrets: Sequence[str]) -> RunTracer | None:
    """The run's tracer when Airflow's tracing is on, else None (no spans at all).

    `[agentjobs] trace_content` is read either way: a value that is not a boolean fails the task
    now, naming the option, rather than passing unseen until the day tracing is turned on (and
    then failing every agent task at once)."""
    from agentjobs.airflow_config import flag

    content = flag(CONTENT_OPTION)
    if not tracing_on():
        return None
    from opentelemetry import trace

    from agentjobs import __version__
    from agentjobs.agent.tracing import RunTracer

    ti = context["ti"]
    map_index = getattr(ti, "map_index", None)
    attributes = {
        # The names Airflow's task span uses, so a query joins the run to its task.
        "airflow.dag_id": ti.dag_id,
        "airflow.task_id": ti.task_id,
        "airflow.dag_run.run_id": ti.run_id,
        "airflow.task_instance.try_number": ti.try_number,
        "airflow.task_instance.map_index": map_index if map_index is not None else -1,
    }
    return RunTracer(
        trace.get_tracer("agentjobs", __version__, tracer_provider=tracer_provider()),
        agent_name,
        content=content,
        secrets=tuple(secrets),
        attributes=attributes,
    )


def tracer_provider() -> ApiTracerProvider:
    """Airflow's provider when it configured one (an SDK provider can flush), else our own."""
    from opentelemetry import trace

    provider = trace.get_tracer_provider()
    if hasattr(provider, "force_flush"):
        return provider
    return own_provider()


def own_provider() -> TracerProvider:
    """The process's OTLP/HTTP provider to Airflow's traces endpoint, made on first use."""
    global _own_provider
    with _own_lock:
        if _own_provider is None:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
            from opentelemetry.sdk.resources import Resource
            from opentelemetry.sdk.trace import TracerProvider
            from opentelemetry.sdk.trace.export import BatchSpanProcessor

            provider = TracerProvider(resource=Resource.create({"service.name": service_name()}))
            provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=traces_endpoint())))
            _own_provider = provider
        return _own_provider


def traces_endpoint() -> str | None:
    """Airflow's `[traces]` host and port as an OTLP/HTTP URL, unless the standard variables set
    one (None: the exporter reads them itself)."""
    from airflow.configuration import conf

    if os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        return None
    host = conf.get("traces", "otel_host", fallback=None)
    port = conf.get("traces", "otel_port", fallback=None)
    if not host or not port:
        return None
    scheme = "https" if conf.getboolean("traces", "otel_ssl_active", fallback=False) else "http"
    return f"{scheme}://{host}:{port}/v1/traces"


def service_name() -> str:
    from airflow.configuration import conf

    return (
        os.environ.get("OTEL_SERVICE_NAME") or conf.get("traces", "otel_service", fallback=None) or "Airflow"
    )


def flush(tracer: RunTracer | None) -> None:
    """Send the run's spans now rather than at the process's exit: a worker killed after the task
    would lose them. Never fails the task."""
    if tracer is None:
        return
    try:
        provider: Any = tracer_provider()
        provider.force_flush(FLUSH_TIMEOUT_MS)
    except Exception as exc:  # a trace backend must never fail a job
        log.warning("could not send the run's trace: %s: %s", type(exc).__name__, exc)


def reset_own_provider() -> None:
    """Shut the process's own provider down (its spans sent) and forget it: the next traced run
    makes a new one from the settings then (tests change the endpoint between runs)."""
    global _own_provider
    with _own_lock:
        provider, _own_provider = _own_provider, None
    if provider is not None:
        provider.shutdown()
