"""`type: webhook`: the artifact as one JSON POST to an `http` connection's URL plus `endpoint`.

    channels:
      - type: webhook
        conn_id: reports_webhook   # an `http` connection: scheme, host, port; headers in extra
        endpoint: /hooks/digest    # appended to the connection's URL

How it posts, and how the post is guarded, is agentjobs.delivery.channels.webhook.
"""

# Annotations evaluated at once, not postponed: pydantic would compile and evaluate each field's
# annotation text at every DAG parse (bench/dag_parse.py).

from typing import Annotated, ClassVar, Literal

from pydantic import AfterValidator, Field

from agentjobs.jobs.addresses import one_line
from agentjobs.jobs.channels.base import ChannelSpec


def _path(value: str) -> str:
    # The ledger's target names the endpoint, so a token in it would be stored and logged.
    if not value.startswith("/") or "?" in value or "#" in value or "@" in value:
        raise ValueError(
            f"{value!r} is not an endpoint path; write one like /hooks/digest "
            "(starting with '/', no query, and no credentials: put those in the connection)"
        )
    return value


class WebhookChannel(ChannelSpec):
    type: Literal["webhook"]
    conn_id: str = "http_default"
    endpoint: Annotated[str, AfterValidator(one_line), AfterValidator(_path)] = "/"
    timeout_s: float = Field(30, gt=0, le=300)

    alerts: ClassVar[bool] = True

    def target(self, job: str, day: str) -> str:
        return f"{self.conn_id}:{self.endpoint}"

    def alert_key(self) -> str:
        return f"webhook:{self.conn_id}:{self.endpoint}"


CHANNEL = WebhookChannel
