"""`type: email`: the artifact as a mail over an SMTP connection."""

# Annotations evaluated at once, not postponed: pydantic would compile and evaluate each field's
# annotation text at every DAG parse (bench/dag_parse.py).

from typing import ClassVar, Literal

from pydantic import Field

from agentjobs.jobs.addresses import EmailAddress, SubjectTemplate
from agentjobs.jobs.channels.base import ChannelSpec


class EmailChannel(ChannelSpec):
    type: Literal["email"]
    conn_id: str = "smtp_default"
    to: list[EmailAddress] = Field(min_length=1)
    subject: SubjectTemplate = "{title} — {day}"  # {title}, {day}

    alerts: ClassVar[bool] = True

    def target(self, job: str, day: str) -> str:
        return ",".join(sorted(self.to))

    def alert_key(self) -> str:
        # As the health check wrote it before channels were objects: its ledger rows keep matching.
        return f"email:{self.conn_id}:{list(self.to)}"


CHANNEL = EmailChannel
