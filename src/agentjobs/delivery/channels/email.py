"""Email: the artifact as text/plain markdown plus inert HTML, over the SMTP provider (delivery/email.py)."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from agentjobs.delivery.channels.base import ChannelSpec, Message
from agentjobs.jobs.addresses import EmailAddress, SubjectTemplate


class EmailChannel(ChannelSpec):
    type: Literal["email"]
    conn_id: str = "smtp_default"
    to: list[EmailAddress] = Field(min_length=1)
    subject: SubjectTemplate = "{title} — {day}"  # {title}, {day}

    alerts: ClassVar[bool] = True

    def target(self, job: str, day: str) -> str:
        return ",".join(sorted(self.to))

    def render(self, message: Message) -> str:
        """The subject line."""
        return self.subject.format(title=message.job_title, day=message.day)

    def send(self, message: Message) -> dict[str, Any]:
        from agentjobs.delivery.email import send_email

        return send_email(
            smtp_conn_id=self.conn_id, to=self.to, subject=self.render(message), markdown=message.markdown
        )

    def alert(self, subject: str, body: str) -> None:
        from agentjobs.delivery.email import send_email

        send_email(smtp_conn_id=self.conn_id, to=self.to, subject=subject, markdown=body)

    def alert_key(self) -> str:
        return f"email:{self.conn_id}:{list(self.to)}"


CHANNEL = EmailChannel
