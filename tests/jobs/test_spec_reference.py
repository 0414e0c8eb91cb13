"""docs/reference/spec.md is what the spec's models declare, and says so in the reader's words."""

from __future__ import annotations

from pydantic import BaseModel, Field

from agentjobs.jobs import spec_reference
from agentjobs.jobs.spec_reference import REGENERATE, Section, markdown
from tests.conftest import REPO

DOC = REPO / "docs" / "reference" / "spec.md"


def test_docs_reference_spec_md_is_what_the_models_declare() -> None:
    written = DOC.read_text(encoding="utf-8") if DOC.is_file() else ""
    assert written == markdown(), (
        f"docs/reference/spec.md differs from the spec's models; regenerate it: {REGENERATE}"
    )


def test_a_key_shows_its_type_default_bounds_and_meaning() -> None:
    page = markdown()
    meaning = "how many days before the logical date the job covers"
    assert f"| `period_days` | integer | `1` | ≥ 1, ≤ 366 | {meaning} |" in page
    assert "| `mode` | one of `loop`, `structured`, `batch` or null | null |" in page
    assert "| `start_date` | date (YYYY-MM-DD) | *required* |" in page
    assert "| `max_cost_usd` | number or null | null | > 0, ≤ 1,000 |" in page


def test_every_model_below_the_spec_every_channel_and_every_kind_has_its_table() -> None:
    titles = [section.title for section in spec_reference.sections()]
    for title in ("Top level", "`caps`", "`sources.sql`", "`sources.sql.inputs`", "`fan_out`"):
        assert title in titles
    for channel in ("email", "slack", "s3", "webhook"):
        assert f"Channel `{channel}`" in titles
    for kind in ("weekly_insights", "anomaly_flags", "reconciliation", "batch_notifications"):
        assert f"Kind `{kind}`" in titles
    assert "`reconciliation.review`" in titles  # a kind's nested section, at its YAML path
    assert "Kind `digest`" not in titles  # the digest's keys are the top level's


def test_a_new_key_appears_with_its_comment_as_its_meaning() -> None:
    class Example(BaseModel):
        """An example section."""

        window: int = Field(3, ge=1, le=9)  # days looked back
        names: list[str] | None = None

    table = spec_reference._table(Section("Kind `example`", "kind-example", Example, "A note."))
    assert table.startswith("## Kind `example` {#kind-example}\n\nA note.\n\nAn example section.\n")
    assert "| `window` | integer | `3` | ≥ 1, ≤ 9 | days looked back |" in table
    assert "| `names` | list of text or null | null |  |  |" in table


def test_a_pipe_in_a_comment_does_not_break_the_table() -> None:
    assert spec_reference._cell("a | b") == "a \\| b"
