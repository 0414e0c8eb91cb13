"""`type: s3`: the artifact and its snapshots as objects under `<prefix>/<dag_id>/<day>.md`."""

# Annotations evaluated at once, not postponed: pydantic would compile and evaluate each field's
# annotation text at every DAG parse (bench/dag_parse.py).

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator

from agentjobs.jobs.channels.base import ChannelSpec
from agentjobs.lazy_pattern import lazy

# AWS's general-purpose bucket naming rules (docs.aws.amazon.com/AmazonS3/latest/userguide/
# bucketnamingrules.html). S3 refuses any other name, but only when the upload is tried: after
# the run's paid model call, so the spec loader checks the name instead.
_BUCKET_CHARS = lazy(r"[a-z0-9.-]+")  # compiled on first use: every DAG parse imports this
_IP_ADDRESS = lazy(r"\d+\.\d+\.\d+\.\d+")
_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")
BUCKET_RULES = (
    "3-63 lower-case letters, digits, dots and hyphens, beginning and ending with a letter or "
    "digit, e.g. acme-reports"
)


def bucket_problem(name: str) -> str | None:
    """Why S3 would refuse `name` as a bucket name, or None when it is a valid one."""
    if not 3 <= len(name) <= 63:
        return f"it is {len(name)} character(s) long"
    if not _BUCKET_CHARS.fullmatch(name):
        bad = sorted({ch for ch in name if not _BUCKET_CHARS.fullmatch(ch)})
        return f"it holds {', '.join(repr(ch) for ch in bad)}"
    if not (name[0].isalnum() and name[-1].isalnum()):
        return "it must begin and end with a letter or digit"
    if ".." in name:
        return "it has two dots in a row"
    if _IP_ADDRESS.fullmatch(name):
        return "it is formatted as an IP address"
    reserved = [p for p in _RESERVED_PREFIXES if name.startswith(p)]
    reserved += [s for s in _RESERVED_SUFFIXES if name.endswith(s)]
    if reserved:
        return f"{reserved[0]!r} is reserved by AWS"
    return None


def bucket_refusal(name: str, fix: str = "") -> str | None:
    """Why `name` is no S3 bucket name and what to write instead (after `fix`, if given), or None."""
    problem = bucket_problem(name)
    if problem is None:
        return None
    return f"{name!r} is not an S3 bucket name ({problem}); {fix}name a bucket with {BUCKET_RULES}"


def bucket_name(value: str) -> str:
    """A spec's S3 bucket: refused at load, naming the rule it breaks, if S3 would refuse it."""
    # A folder written into the bucket ('reports/daily') belongs in the channel's `prefix`.
    refusal = bucket_refusal(value, "put the folder in `prefix` and " if "/" in value else "")
    if refusal is not None:
        raise ValueError(refusal)
    return value


def digest_key(prefix: str, dag_id: str, logical_date: str | date) -> str:
    """The artifact's object key; its snapshots go beside it (delivery/s3.py)."""
    if isinstance(logical_date, datetime):
        day = logical_date.date().isoformat()
    elif isinstance(logical_date, date):
        day = logical_date.isoformat()
    else:
        day = date.fromisoformat(logical_date).isoformat()  # validated: a key never holds a path
    return "/".join(p for p in (prefix.strip("/"), dag_id, f"{day}.md") if p)


class S3Channel(ChannelSpec):
    type: Literal["s3"]
    conn_id: str = "aws_default"
    bucket: Annotated[str, AfterValidator(bucket_name)]  # AWS-valid (3-63 of a-z 0-9 . -), checked at load
    prefix: str = "reports"

    def target(self, job: str, day: str) -> str:
        return f"s3://{self.bucket}/{digest_key(self.prefix, job, day)}"


CHANNEL = S3Channel
