"""weekly_insights: each team's own Sunday, its local weeks, and bullets whose every number is the data's."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from croniter import croniter

from agentjobs.agent.contract import parse_result_dict
from agentjobs.agent.skills import load_skill
from agentjobs.agent.tools import ToolRegistry
from agentjobs.business.generate import generate
from agentjobs.jobs.kinds.base import CheckFailed, PeriodRef, Team, TeamSnapshot
from agentjobs.jobs.kinds.snapshots import team_snapshot
from agentjobs.jobs.kinds.weekly_insights import Settings, Weeks, weekly_insights
from agentjobs.jobs.numbers import format_amount, format_pct
from agentjobs.sources.sql import read_tables, read_teams
from tests.delivery.inert import assert_no_bidi_controls

KIND = weekly_insights
SETTINGS = Settings()
SKILLS = Path(__file__).resolve().parents[3] / "include" / "skills"
BERLIN = Team(id="team-berlin", name="Berlin", timezone="Europe/Berlin", currency="EUR")
# Sunday 2026-11-29 09:00 in Berlin: the week 2026-11-22..28.
RUN = datetime(2026, 11, 29, 8, tzinfo=UTC)

# Weekly totals (minor units) per (kind, category), index 0 = the week reported.
CALM: dict[tuple[str, str], list[int]] = {
    ("expense", "software"): [120000, 100000, 101000, 99000, 100500],  # +20.0 % this week
    ("expense", "travel"): [50000, 51000, 49000, 50000, 50500],  # -2.0 %
    ("expense", "office"): [30000, 29500, 30200, 30100, 29900],
    ("income", "sales"): [900000, 880000, 870000, 890000, 860000],  # +2.3 %
}


def rows_for(team: Team, run: datetime, weekly: dict[tuple[str, str], list[int]]) -> list[dict[str, Any]]:
    """Each week's total as two transactions at the week's local edges (Sunday 00:30, Saturday 23:30)."""
    tz = ZoneInfo(team.timezone)
    last_day = KIND.period(team, run, SETTINGS).day
    rows = []
    for (kind, category), totals in weekly.items():
        for week, total in enumerate(totals):
            if not total:
                continue  # amounts are > 0: a zero week has no rows
            saturday = last_day - timedelta(days=7 * week)
            edges = [(saturday - timedelta(days=6), time(0, 30)), (saturday, time(23, 30))]
            for n, (day, at) in enumerate(edges):
                moment = datetime.combine(day, at, tzinfo=tz).astimezone(UTC)
                rows.append(
                    {
                        "id": f"{category}-{week}-{n}",
                        "occurred_at": moment.isoformat(),
                        "kind": kind,
                        "category": category,
                        "amount_cents": total // 2 + (total % 2 if n else 0),
                        "currency": team.currency,
                    }
                )
    return rows


def snapshot(
    team: Team = BERLIN, weekly: dict[tuple[str, str], list[int]] | None = None, run: datetime = RUN
) -> TeamSnapshot:
    period = KIND.period(team, run, SETTINGS)
    rows = rows_for(team, run, CALM if weekly is None else weekly)
    snap = TeamSnapshot(kind=KIND.name, team=team, period=PeriodRef.of(period), tables={"transactions": rows})
    # What the summarize task reads back: the snapshot as JSON.
    return TeamSnapshot.model_validate_json(snap.model_dump_json())


def top_answer(snap: TeamSnapshot, n: int = 3, comment: str = "Worth a look") -> dict[str, Any]:
    """The answer a model gives that picks the largest changes, as the prompt orders them."""
    ranked = Weeks(snap, SETTINGS.weeks_back).week_on_week()
    return {"findings": [{"metric": c.metric, "comment": comment} for c in ranked[:n]]}


def render(snap: TeamSnapshot, answer: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
    rendered = KIND.render(snap, top_answer(snap) if answer is None else answer, SETTINGS, "Weekly insights")
    return rendered.markdown, rendered.result


def failure(snap: TeamSnapshot, markdown: str, result: dict[str, Any]) -> str:
    with pytest.raises(CheckFailed) as caught:
        KIND.check(snap, markdown, result, SETTINGS)
    return str(caught.value)


# ------------------------------------------------------------------ schedule and period


def weekend_hours(sunday: date) -> list[datetime]:
    """Every run of the default schedule from the Saturday before `sunday` (UTC) to the Monday after."""
    start = datetime.combine(sunday - timedelta(days=1), time(0), tzinfo=UTC) - timedelta(hours=1)
    runs = croniter(KIND.default_schedule, start)
    found = []
    while (moment := runs.get_next(datetime)) < start + timedelta(days=3):
        found.append(moment)
    return found


@pytest.mark.parametrize(
    ("timezone", "sunday", "utc_run"),
    [
        ("Asia/Tokyo", date(2026, 11, 29), datetime(2026, 11, 29, 0, tzinfo=UTC)),
        ("America/Los_Angeles", date(2026, 10, 25), datetime(2026, 10, 25, 16, tzinfo=UTC)),  # PDT
        ("America/Los_Angeles", date(2026, 11, 1), datetime(2026, 11, 1, 17, tzinfo=UTC)),  # PST from 02:00
        ("America/Los_Angeles", date(2026, 11, 8), datetime(2026, 11, 8, 17, tzinfo=UTC)),
        ("Europe/Berlin", date(2026, 10, 25), datetime(2026, 10, 25, 8, tzinfo=UTC)),  # CET from 03:00
        ("Asia/Kolkata", date(2026, 11, 29), datetime(2026, 11, 29, 4, tzinfo=UTC)),  # 09:30 local, once
        ("Pacific/Kiritimati", date(2026, 11, 29), datetime(2026, 11, 28, 19, tzinfo=UTC)),  # UTC+14
        ("Etc/GMT+12", date(2026, 11, 29), datetime(2026, 11, 29, 21, tzinfo=UTC)),  # UTC-12
    ],
)
def test_each_team_is_due_once_at_its_own_sunday_nine(timezone: str, sunday: date, utc_run: datetime) -> None:
    team = BERLIN.model_copy(update={"timezone": timezone})
    due = [when for when in weekend_hours(sunday) if KIND.due(team, when, SETTINGS)]
    assert due == [utc_run]
    assert KIND.period(team, utc_run, SETTINGS).key == (sunday - timedelta(days=1)).isoformat()


def test_local_hour_setting_moves_the_run() -> None:
    tokyo = BERLIN.model_copy(update={"timezone": "Asia/Tokyo"})
    ten = Settings(local_hour=10)
    assert KIND.due(tokyo, datetime(2026, 11, 29, 1, tzinfo=UTC), ten)
    assert not KIND.due(tokyo, datetime(2026, 11, 29, 0, tzinfo=UTC), ten)


def test_query_binds_the_local_weeks_in_utc_and_reads_only_them() -> None:
    # The history starts 4 weeks before 2026-11-22 in Berlin: 2026-10-25 00:00 CEST, before the DST change.
    [(name, query)] = KIND.queries(BERLIN, KIND.period(BERLIN, RUN, SETTINGS), SETTINGS).items()
    assert name == "transactions"
    assert query.params == {
        "team_id": "team-berlin",
        "start": datetime(2026, 10, 24, 22, 0),
        "end": datetime(2026, 11, 28, 23, 0),
    }
    assert ":team_id" in query.sql and "{" not in query.sql

    engine = sa.create_engine("sqlite://")
    meta = sa.MetaData()
    table = sa.Table(
        "transactions",
        meta,
        *(sa.Column(c, sa.Text) for c in ("id", "team_id", "kind", "category", "currency")),
        sa.Column("occurred_at", sa.DateTime),
        sa.Column("amount_cents", sa.Integer),
    )
    meta.create_all(engine)
    edges = {
        "before": datetime(2026, 10, 24, 21, 59, 59),
        "first": datetime(2026, 10, 24, 22, 0),
        "last": datetime(2026, 11, 28, 22, 59, 59),
        "after": datetime(2026, 11, 28, 23, 0),
    }
    with engine.begin() as conn:
        for key, at in edges.items():
            for team in ("team-berlin", "team-tokyo"):
                conn.execute(
                    table.insert().values(
                        id=f"{team}-{key}", team_id=team, kind="expense", category="office",
                        currency="EUR", occurred_at=at, amount_cents=1,
                    )
                )  # fmt: skip
        found = conn.execute(sa.text(query.sql), query.params).mappings().all()
    assert [r["id"] for r in found] == ["team-berlin-first", "team-berlin-last"]


# ------------------------------------------------------------------ the weeks and the tools


def test_compare_periods_tool_answers_as_the_renderer_writes() -> None:
    plan = KIND.plan(snapshot(), SETTINGS, "loop")
    registry = ToolRegistry()
    for tool in plan.tools:
        registry.register(tool)
    assert sorted(registry.names()) == ["compare_periods", "list_metrics"]
    listed = json.loads(registry.call("list_metrics", "").content)
    assert "spend:software" in listed["metrics"] and listed["periods"][4]["name"] == "4_weeks_ago"

    out = registry.call("compare_periods", '{"metric": "spend:software", "period1": "this_week", '
                        '"period2": "2_weeks_ago"}')  # fmt: skip
    answer = json.loads(out.content)
    assert answer["period1"] == {
        "name": "this_week", "first_day": "2026-11-22", "last_day": "2026-11-28",
        "value": 120000, "formatted": "€1,200.00",
    }  # fmt: skip
    assert (answer["period2"]["value"], answer["change"], answer["change_pct"]) == (
        101000,
        "+€190.00",
        "+18.8%",
    )
    count = json.loads(registry.call("compare_periods", '{"metric": "transactions", "period1": '
                                     '"this_week", "period2": "previous_week"}').content)  # fmt: skip
    assert (count["change"], count["change_pct"]) == ("0", "0.0%")
    # One direction only, so that a written change's sign means one thing.
    backwards = registry.call("compare_periods", '{"metric": "revenue", "period1": "previous_week", '
                              '"period2": "this_week"}')  # fmt: skip
    assert not backwards.ok and "later week" in backwards.content
    bad = registry.call(
        "compare_periods", '{"metric": "spend:yachts", "period1": "this_week", "period2": "x"}'
    )
    assert not bad.ok and "list_metrics" in bad.content
    assert not registry.call("compare_periods", '{"metric": "revenue", "period1": "this_week", '
                             '"period2": "5_weeks_ago"}').ok  # fmt: skip


def test_a_week_from_nothing_has_no_percentage() -> None:
    snap = snapshot(
        weekly={("expense", "travel"): [5000, 0, 0, 0, 0], ("income", "sales"): [100, 100, 0, 0, 0]}
    )
    markdown, result = render(snap)
    assert "**Travel spend**: €50.00 this week vs €0.00 the week before, +€50.00." in markdown
    KIND.check(snap, markdown, result, SETTINGS)


# ------------------------------------------------------------------ plan


def test_structured_plan_offers_only_metrics_with_data_largest_change_first() -> None:
    plan = KIND.plan(snapshot(), SETTINGS, "structured")
    assert plan.answer is None and plan.tools == []
    finding = plan.result_schema["properties"]["findings"]
    assert (finding["minItems"], finding["maxItems"]) == (3, 5)
    props = finding["items"]["properties"]
    fixed = ["revenue", "expenses", "transactions"]
    assert props["metric"]["enum"] == [
        *fixed,
        "revenue:sales",
        "spend:office",
        "spend:software",
        "spend:travel",
    ]
    assert "pattern" not in props["comment"] and props["comment"]["maxLength"] <= 100
    data = plan.prompt.split("<data>\n")[1].splitlines()
    assert data[0] == (
        "- metric: spend:software | this week €1,200.00 | previous week €1,000.00 | change +€200.00 (+20.0%)"
    )
    assert "Use ONLY the data" in plan.prompt


def test_loop_plan_gives_the_tools_and_the_bullets_contract() -> None:
    plan = KIND.plan(snapshot(), SETTINGS, "loop")
    assert [t.name for t in plan.tools] == ["list_metrics", "compare_periods"]
    bullets = plan.result_schema["properties"]["bullets"]
    assert (bullets["minItems"], bullets["maxItems"]) == (3, 5)
    assert "compare_periods" in plan.prompt and "4_weeks_ago" in plan.prompt


@pytest.mark.parametrize("mode", ["structured", "loop"])
def test_a_week_without_transactions_asks_no_model_and_says_so(mode: str) -> None:
    snap = snapshot(weekly={("expense", "software"): [0, 100000, 100000, 0, 0]})
    plan = KIND.plan(snap, SETTINGS, mode)  # type: ignore[arg-type]
    assert plan.answer is not None
    markdown, result = render(snap, plan.answer)
    assert (
        markdown
        == "# Weekly insights — Berlin, week 2026-11-22\u20132026-11-28\n\nNo transactions this week.\n"
    )
    assert result == {"bullets": [], "items": 0}
    KIND.check(snap, markdown, result, SETTINGS)
    assert KIND.preview(markdown) == "No transactions this week."
    # And an artifact that claims bullets for that week fails.
    assert "no transactions" in failure(snap, markdown + "- Revenue rose.\n", {"items": 1})


# ------------------------------------------------------------------ render, check, preview


def test_rendered_insights_pass_their_check_and_validate_against_the_skill() -> None:
    snap = snapshot()
    markdown, result = render(snap)
    lines = markdown.splitlines()
    assert lines[0] == "# Weekly insights — Berlin, week 2026-11-22\u20132026-11-28"
    assert lines[2] == (
        "- **Software spend**: €1,200.00 this week vs €1,000.00 the week before, +€200.00 (+20.0%). "
        "Worth a look"
    )
    assert result["items"] == 3 and len(result["bullets"]) == 3
    KIND.check(snap, markdown, result, SETTINGS)
    skill = load_skill("weekly-insights", SKILLS)
    assert skill.mode == "structured" and skill.empty_field == "items"
    assert set(skill.allowed_tools or ()) == {"compare_periods", "list_metrics"}
    assert "## Structured mode" in skill.instructions
    assert parse_result_dict(result, skill.result_model()) == result
    assert parse_result_dict({"bullets": [], "items": 0}, skill.result_model())
    assert KIND.preview(markdown) == (
        "Software spend: €1,200.00 this week vs €1,000.00 the week before, +€200.00 (+20.0%). Worth a look"
    )


def test_findings_are_deduplicated_trusted_only_from_the_data_and_topped_up() -> None:
    snap = snapshot()
    answer = {
        "findings": [
            {"metric": "spend:travel", "comment": "Travel is calm"},
            {"metric": "spend:travel", "comment": "again"},
            {"metric": "spend:yachts", "comment": "invented"},
        ]
    }
    markdown, result = render(snap, answer)
    bullets = [line for line in markdown.splitlines() if line.startswith("- ")]
    assert [b.split("**")[1] for b in bullets] == ["Travel spend", "Software spend", "Expenses"]
    assert "yachts" not in markdown and result["items"] == 3
    KIND.check(snap, markdown, result, SETTINGS)


def test_hostile_team_name_and_comments_stay_text() -> None:
    team = BERLIN.model_copy(update={"name": "Ops \u202e[x](javascript:alert) <!channel> @here *"})
    snap = snapshot(team)
    hostile = {
        "findings": [
            {
                "metric": "spend:software",
                "comment": "<script>x</script> [click](javascript:y) \u2067**now**\u2069",
            },
            {"metric": "revenue", "comment": "Revenue is up 99 percent"},  # a digit: the comment is dropped
            {"metric": "expenses", "comment": "# heading\n- list"},
        ]
    }
    markdown, result = render(snap, hostile)
    assert "Ops \\[x\\](javascript:alert) &lt;!channel> @here \\*" in markdown.splitlines()[0]
    assert "&lt;script>x&lt;/script> \\[click\\](javascript:y) \\*\\*now\\*\\*" in markdown
    assert "99" not in markdown
    assert "(+2.3%).\n" in markdown  # the revenue bullet, without its comment
    assert "\\# heading - list" in markdown
    assert_no_bidi_controls(markdown)
    KIND.check(snap, markdown, result, SETTINGS)


def test_an_invented_number_fails_naming_number_and_bullet() -> None:
    snap = snapshot()
    markdown, result = render(snap)
    broken = markdown.replace("Worth a look", "About 37 new seats", 1)
    message = failure(snap, broken, result)
    assert "bullet 1 states '37'" in message and "new seats" in message


def test_a_number_off_by_its_rounding_fails() -> None:
    snap = snapshot()
    markdown, result = render(snap)
    assert "(+20.0%)" in markdown
    # 20.04 % would read as 20.0 %, 20.1 % is a tenth off what the renderer's rounding gives.
    assert "'+20.1%'" in failure(snap, markdown.replace("(+20.0%)", "(+20.1%)"), result)
    assert "'€1,200.01'" in failure(snap, markdown.replace("€1,200.00", "€1,200.01", 1), result)
    assert "'-€200.00'" in failure(snap, markdown.replace("+€200.00", "-€200.00", 1), result)
    # Written less precisely, the same value is still supported.
    KIND.check(snap, markdown.replace("(+20.0%)", "(+20%)"), {"items": 3}, SETTINGS)


def test_a_changed_week_on_week_value_is_found() -> None:
    before = snapshot()
    markdown, result = render(before)
    changed = dict(CALM)
    changed[("expense", "software")] = [121000, *CALM[("expense", "software")][1:]]
    after = snapshot(weekly=changed)
    message = failure(after, markdown, result)
    assert "bullet 1 states '€1,200.00'" in message
    fresh, fresh_result = render(after)
    assert "€1,210.00 this week" in fresh and format_pct(Decimal(21)) in fresh
    KIND.check(after, fresh, fresh_result, SETTINGS)


def test_shape_failures_are_named() -> None:
    snap = snapshot()
    markdown, result = render(snap)
    bullets = [line for line in markdown.splitlines() if line.startswith("- ")]
    assert "2 bullets" in failure(snap, markdown.replace(bullets[2] + "\n", ""), {"items": 2})
    assert "RESULT items" in failure(snap, markdown, {**result, "items": 4})
    swapped = {**result, "bullets": [*result["bullets"][:2], "Revenue rose."]}
    assert "not the bullets" in failure(snap, markdown, swapped)
    assert "only bullets" in failure(snap, markdown + "\nSome prose.\n", result)
    assert "heading" in failure(snap, markdown.replace("Berlin", "Munich", 1), result)
    long = markdown.replace("Worth a look", "very " * 200, 1)
    assert "words" in failure(snap, long, result)


def test_loop_bullets_pass_with_the_tools_numbers_and_fail_with_others() -> None:
    snap = snapshot()
    good = [
        "Software spend rose +20.0% to €1,200.00, from €1,000.00 the previous week.",
        "Against 2_weeks_ago it is +€190.00 (+18.8%), the largest change in 4 weeks.",
        "Sales revenue grew 2.3% to €9,000.00; travel fell -2.0%.",
    ]
    rendered = KIND.render(snap, {"bullets": good, "items": 3}, SETTINGS, "Weekly insights")
    KIND.check(snap, rendered.markdown, rendered.result, SETTINGS)
    assert rendered.result["items"] == 3
    bad = [*good[:2], "Sales revenue grew 2.4% to €9,000.00."]
    wrong = KIND.render(snap, {"bullets": bad, "items": 3}, SETTINGS, "Weekly insights")
    assert "bullet 3 states '2.4%'" in failure(snap, wrong.markdown, wrong.result)


def test_a_bullet_is_held_to_the_numbers_of_the_metric_it_names() -> None:
    snap = snapshot()
    # €9,000.00 is this week's revenue: true of the data, false of software spend.
    assert "'€9,000.00'" in failure(snap, *loop_artifact(snap, "Software spend reached €9,000.00."))
    KIND.check(snap, *loop_artifact(snap, "Software spend reached €1,200.00."), SETTINGS)
    # A bullet naming no metric may use any metric's numbers.
    KIND.check(snap, *loop_artifact(snap, "The week closed at €9,000.00 in."), SETTINGS)


@pytest.mark.parametrize(
    ("third", "named"),
    [
        ("Most of the software spend went to Acme Corp.", "Acme Corp"),  # a vendor the rows lack
        ("Globex paid the largest sales invoice.", "Globex"),  # a customer, first word of the bullet
        ("The Munich team drove the office spend.", "Munich"),  # a team that is not this one
        ("Ask Anna Schmidt why travel fell.", "Anna Schmidt"),  # a person of no row
        ('The "payroll" category stayed flat.', "payroll"),  # a category the week does not have
        ("Sofware spend rose.", "Sofware"),  # a near miss of the category software
    ],
)
def test_a_bullet_naming_what_the_data_lacks_fails_quoting_the_name(third: str, named: str) -> None:
    snap = snapshot()
    assert f"bullet 3 names {named!r}, which is in no row of the snapshot" in failure(
        snap, *loop_artifact(snap, third)
    )


def test_names_of_the_data_and_ordinary_prose_pass_the_name_check() -> None:
    snap = snapshot()
    for third in (
        "Berlin's Software spend led the week; Office and Travel were steady.",
        "Compared with previous_week, Sales revenue held up on Monday and Friday.",
        "Overall, Expenses in EUR were flat. Worth a look next week.",
    ):
        KIND.check(snap, *loop_artifact(snap, third), SETTINGS)


def test_a_structured_comment_naming_what_the_data_lacks_is_dropped() -> None:
    snap = snapshot()
    answer = top_answer(snap, comment="Mostly Acme Corp seat licences")
    markdown, result = render(snap, answer)
    assert "Acme" not in markdown and result["items"] == 3
    KIND.check(snap, markdown, result, SETTINGS)
    kept, kept_result = render(snap, top_answer(snap, comment="Software and travel moved"))
    assert kept.count("Software and travel moved") == 3
    KIND.check(snap, kept, kept_result, SETTINGS)
    # Written into the artifact anyway (not by the renderer), the name fails the check.
    broken = kept.replace("Software and travel moved", "Mostly Acme Corp seat licences", 1)
    assert "bullet 1 names 'Acme Corp'" in failure(snap, broken, kept_result)


def loop_artifact(snap: TeamSnapshot, third: str) -> tuple[str, dict[str, Any]]:
    bullets = ["Revenue grew +2.3%.", "Travel fell -2.0%.", third]
    rendered = KIND.render(snap, {"bullets": bullets, "items": 3}, SETTINGS, "Weekly insights")
    return rendered.markdown, rendered.result


# ------------------------------------------------------------------ the generated business database


def test_the_planted_weekly_change_leads_the_generated_databases_insights(tmp_path: Path) -> None:
    truth = generate(tmp_path / "business.db")
    planted = [c for c in truth.weekly_changes if c.week_end == date(2026, 11, 28)]
    assert planted
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'business.db'}")
    teams = {team.id: (team, members) for team, members in read_teams(engine)}

    def read(queries: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
        return read_tables(engine, queries)

    for change in planted:
        team, members = teams[change.team_id]
        # The run of the Sunday after week_end, at 09:00 in the team's zone.
        sunday = change.week_end + timedelta(days=1)
        when = datetime.combine(sunday, time(9), tzinfo=ZoneInfo(team.timezone)).astimezone(UTC)
        assert KIND.due(team, when, SETTINGS)
        snap = team_snapshot(KIND, SETTINGS, team, members, when, read)
        assert snap.period.key == change.week_end.isoformat()
        plan = KIND.plan(snap, SETTINGS, "structured")
        top = plan.prompt.split("<data>\n")[1].splitlines()[0]
        assert top.startswith(f"- metric: spend:{change.category} |")
        markdown, result = render(snap)
        KIND.check(snap, markdown, result, SETTINGS)
        first = markdown.splitlines()[2]
        amount = format_amount(change.total_cents, team.currency)
        previous = format_amount(change.previous_total_cents, team.currency)
        assert first.startswith(
            f"- **{change.category.capitalize()} spend**: {amount} this week vs {previous}"
        )
        assert f"({format_pct(Decimal(str(change.change_pct)), signed=True)})" in first
    engine.dispose()


def test_an_artifact_whose_totals_leave_out_null_amounts_says_so() -> None:
    clean = snapshot()
    tables = {"transactions": [dict(r) for r in clean.tables["transactions"]]}
    when = tables["transactions"][0]["occurred_at"]  # in the week reported
    tables["transactions"] += [
        {"id": f"ocr-{n}", "occurred_at": when, "kind": "expense", "category": "travel",
         "amount_cents": None, "currency": "EUR"}
        for n in (1, 2)
    ]  # fmt: skip
    snap = clean.model_copy(update={"tables": tables})
    markdown, result = render(snap)
    note = "Not totalled: 2 transactions with amount unknown (in the weeks compared)."
    assert markdown.rstrip("\n").splitlines()[-1] == note
    assert result["items"] == 3 and note not in result["bullets"]
    KIND.check(snap, markdown, result, SETTINGS)
    assert KIND.preview(markdown).startswith(result["bullets"][0][:20])  # the preview is a bullet still
    # Written without the line (a hand edit, an older renderer), the artifact fails its check.
    dropped = markdown.replace(f"\n{note}\n", "")
    assert "amounts are missing: the artifact must end with" in failure(snap, dropped, result)
    # With every amount known there is no such line, and the line alone is refused.
    clean_markdown, clean_result = render(clean)
    assert "Not totalled" not in clean_markdown
    added = f"{clean_markdown}\n{note}\n"
    assert "only bullets may follow the heading" in failure(clean, added, clean_result)
