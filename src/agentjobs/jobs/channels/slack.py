"""`type: slack`: Block Kit through a `slackwebhook` connection or a `slack` API connection."""

# Annotations evaluated at once, not postponed: pydantic would compile and evaluate each field's
# annotation text at every DAG parse (bench/dag_parse.py).

from typing import Any, ClassVar, Literal

from pydantic import ValidationInfo, field_validator

from agentjobs.jobs.channels.base import WRITTEN_IN_A_FILE, ChannelSpec
from agentjobs.lazy_pattern import lazy

# A channel name (with or without '#') or id: nothing Slack could read as markup or a mention,
# nor a second line. Also what a per-team row of the business database must be. Slack's names:
# at most 80 lowercase letters, digits, -, _ (non-Latin letters allowed); ids are capitals and
# digits. Whitespace, controls, <>&|@!,: and quotes never.
SLACK_CHANNEL = lazy(r"#?[^\s\x00-\x1f\x7f<>&|@!,:'\"`]{1,80}")


class SlackChannel(ChannelSpec):
    type: Literal["slack"]
    conn_id: str = "slack_default"  # a `slack` (API token) or `slackwebhook` connection
    channel: str | None = None  # needed for `slack` API connections; quote a name: "#digest"
    # A forced re-delivery edits the message posted before (by its stored ts) instead of posting
    # a second one; webhooks cannot edit, so there it always posts.
    update_on_redeliver: bool = True

    alerts: ClassVar[bool] = True

    # mode="before" sees only a key that is given: leaving `channel` out stays None. A null written
    # in a spec file is refused; one from a dumped spec validated again (cli/run.py) is the default.
    @field_validator("channel", mode="before")
    @classmethod
    def _a_channel_name_or_id(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None and (info.context or {}).get(WRITTEN_IN_A_FILE):
            # YAML reads `channel: #digest` as `channel:` and a comment: null.
            raise ValueError(
                'channel is empty; a # starts a YAML comment, so quote the name: channel: "#digest" '
                "(or leave the key out for a slackwebhook connection, which posts where its app says)"
            )
        if isinstance(value, str) and not SLACK_CHANNEL.fullmatch(value):
            raise ValueError(
                f'{value!r} is not a Slack channel name or id; write one like "#digest" or C0123ABC'
            )
        return value

    def target(self, job: str, day: str) -> str:
        return f"{self.conn_id}:{self.channel or 'webhook'}"

    def alert_key(self) -> str:
        # As the health check wrote it before channels were objects: its ledger rows keep matching.
        return f"slack:{self.conn_id}:{self.channel or []}"


CHANNEL = SlackChannel
