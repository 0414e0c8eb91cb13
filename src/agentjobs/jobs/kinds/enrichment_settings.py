"""The `enrichment` spec section, and each customer's lookup URL built from it (a DAG parse
validates the section with the kind, enrichment.py; the run-time half, enrichment_run.py,
reads the same model)."""

# Annotations evaluated at once, not postponed: pydantic would compile and evaluate each field's
# annotation text at every DAG parse (bench/dag_parse.py).

from typing import TYPE_CHECKING
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from agentjobs.agent.http_allow import DEFAULT_MAX_BYTES, check_allow_url

if TYPE_CHECKING:  # annotations only: the guarded fetcher's policy loads when a task fetches
    from agentjobs.agent.http_policy import HttpPolicy

ARTIFACT_FILE = "enrichment.md"


class EnrichmentSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # The lookup of a customer is source_url + its url-quoted name, e.g. .../companies/Globex%20GmbH.
    source_url: str
    # URL prefixes http_get may fetch; empty: source_url alone. Each is a plain http(s) prefix
    # ending in '/', no credentials, no wildcards (a prefix already covers all below it).
    allow_urls: list[str] = []
    max_response_bytes: int = Field(DEFAULT_MAX_BYTES, ge=256, le=10_000_000)
    batch_size: int = Field(20, ge=1, le=200)  # customers per team per run
    local_hour: int = Field(6, ge=0, le=23)  # in the team's time zone

    @field_validator("source_url")
    @classmethod
    def _source(cls, value: str) -> str:
        return check_allow_url(value)

    @field_validator("allow_urls")
    @classmethod
    def _prefixes(cls, value: list[str]) -> list[str]:
        return [check_allow_url(entry) for entry in value]

    @model_validator(mode="after")
    def _source_allowed(self) -> "EnrichmentSettings":
        if self.allow_urls and not any(self.source_url.startswith(p) for p in self.allow_urls):
            raise ValueError(
                f"source_url {self.source_url!r} is not below any of allow_urls {self.allow_urls}; "
                "add its prefix to allow_urls"
            )
        return self

    def policy(self) -> "HttpPolicy":
        from agentjobs.agent.http_policy import HttpPolicy  # with the fetcher, when a task fetches

        return HttpPolicy.of(self.allow_urls or [self.source_url], self.max_response_bytes)


def lookup_url(settings: EnrichmentSettings, name: str) -> str:
    return settings.source_url + quote(name, safe="")
