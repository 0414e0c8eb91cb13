"""The `compliance_report` spec section (a DAG parse validates it with the kind,
compliance_report.py; the run-time half, compliance_report_run.py, reads the same model)."""

# Annotations evaluated at once, not postponed: pydantic would compile and evaluate each field's
# annotation text at every DAG parse (bench/dag_parse.py).

from typing import Annotated
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator

from agentjobs.jobs.channels.s3 import BUCKET_RULES, bucket_problem

ARTIFACT_FILE = "report.md"


class ComplianceSettings(BaseModel):
    """The spec's `compliance_report` section."""

    model_config = ConfigDict(extra="forbid")
    local_hour: Annotated[StrictInt, Field(ge=0, le=23)] = 6  # on the 1st, in the team's time zone
    top_n: Annotated[StrictInt, Field(ge=1, le=100)] = 10  # unpaid invoices and receipts listed
    sentences_max: Annotated[StrictInt, Field(ge=1, le=6)] = 4  # of the narrative
    # Where the PDFs go: s3://bucket/prefix or file:///absolute/folder; absent: each team's run folder.
    storage: str | None = None
    storage_conn_id: str | None = None  # the aws connection for s3:// (absent: S3Hook's aws_default)

    @field_validator("storage")
    @classmethod
    def _storage_uri(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme == "s3" and parts.netloc:
            problem = bucket_problem(parts.netloc)
            if problem is not None:  # S3 would refuse it only at the first upload, after the model ran
                raise ValueError(
                    f"{value!r} names no S3 bucket: {parts.netloc!r} is not a bucket name ({problem}); "
                    f"name a bucket with {BUCKET_RULES}"
                )
            return value.rstrip("/")
        if parts.scheme == "file" and not parts.netloc and parts.path.startswith("/"):
            return value.rstrip("/")
        raise ValueError(
            f"{value!r} is not a storage location; use s3://bucket/prefix or file:///absolute/folder, "
            "or leave it out to keep each PDF in its team's run folder"
        )
