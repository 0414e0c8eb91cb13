"""Email: the artifact as text/plain markdown plus inert HTML, over the SMTP provider (delivery/email.py)."""

from __future__ import annotations

from typing import Any

from agentjobs.delivery.channels.base import Channel, Message
from agentjobs.jobs.channels.email import EmailChannel


class EmailSender(Channel[EmailChannel]):
    spec_model = EmailChannel

    def render(self, message: Message) -> str:
        """The subject line."""
        return self.spec.subject.format(title=message.job_title, day=message.day)

    def send(self, message: Message) -> dict[str, Any]:
        from agentjobs.delivery.email import send_email

        spec = self.spec
        return send_email(
            smtp_conn_id=spec.conn_id, to=spec.to, subject=self.render(message), markdown=message.markdown
        )

    def alert(self, subject: str, body: str) -> None:
        from agentjobs.delivery.email import send_email

        send_email(smtp_conn_id=self.spec.conn_id, to=self.spec.to, subject=subject, markdown=body)


CHANNEL = EmailSender
