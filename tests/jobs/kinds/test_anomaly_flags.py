"""The anomaly_flags kind on synthetic data: what it flags, what the artifact says, what the check refuses."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pydantic
import pytest
import sqlalchemy as sa

from agentjobs.agent.skills import load_skill, model_from_json_schema
from agentjobs.agent.tools import ToolRegistry
from agentjobs.business.load import load_into
from agentjobs.business.truth import Truth
from agentjobs.jobs.kinds.anomaly_detect import detect
from agentjobs.jobs.kinds.anomaly_flags import KIND
from agentjobs.jobs.kinds.anomaly_settings import AnomalySettings
from agentjobs.jobs.kinds.base import CheckFailed, PeriodRef, Team, TeamSnapshot
from agentjobs.jobs.kinds.snapshots import team_snapshot
from agentjobs.jobs.period import period_of_day
from agentjobs.sources.sql import read_tables, read_teams
from tests.business import fixtures
from tests.delivery.inert import assert_no_bidi_controls

DAY = date(2026, 11, 28)
TZ = "Europe/Berlin"
SKILLS = Path(__file__).resolve().parents[3] / "include" / "skills"
# A right-to-left override too: shown, `Acme` would read backwards.
HOSTILE = "[\u202eAcme](javascript:alert(1)) <!channel> **@here** <script>x</script>"


def team(tz: str = TZ, name: str = "Berlin") -> Team:
    return Team(id="team-berlin", name=name, timezone=tz, currency="EUR", slack_channel="#team-berlin")


def at(day: date, hour: int, tz: str = TZ, minute: int = 0) -> str:
    """A local time of `day` as the ISO UTC string the sql source stores in a snapshot."""
    local = datetime.combine(day, time(hour, minute), tzinfo=ZoneInfo(tz))
    return local.astimezone(UTC).replace(tzinfo=None).isoformat()


def calm_orders(day: date, n: int, tz: str = TZ) -> list[dict[str, Any]]:
    return [
        {
            "id": f"ord-{day.isoformat()}-{i:03d}",
            "placed_at": at(day, 8 + i % 12, tz, i % 60),
            "customer_id": f"cus-{i % 7}",
            "amount_cents": 2_500 + (i % 5) * 100,
            "status": "placed",
        }
        for i in range(n)
    ]


def expense(
    tx_id: str, day: date, hour: int, amount: int, vendor: str = "ven-1", **extra: Any
) -> dict[str, Any]:
    row = {
        "id": tx_id,
        "occurred_at": at(day, hour, extra.pop("tz", TZ), extra.pop("minute", 0)),
        "kind": "expense",
        "category": "software",
        "amount_cents": amount,
        "currency": "EUR",
        "vendor_id": vendor,
        "vendor_name": extra.pop("vendor_name", "Acme GmbH"),
    }
    return row | extra


def history_tables(
    days: int = 28, today_orders: int = 40, jitter: bool = True, tz: str = TZ
) -> dict[str, list[dict[str, Any]]]:
    """`days` calm days before DAY (orders 38..42, 6 expenses of distinct vendors a day) and DAY itself."""
    orders: list[dict[str, Any]] = []
    transactions: list[dict[str, Any]] = []
    for back in range(days, -1, -1):
        day = DAY - timedelta(days=back)
        n = today_orders if back == 0 else 40 + ((back * 7) % 5 - 2 if jitter else 0)
        orders += calm_orders(day, n, tz)
        for v in range(6):
            transactions.append(
                expense(f"tx-{day.isoformat()}-{v}", day, 9 + v, 10_000 + v * 1_000, f"ven-{v}", tz=tz)
            )
    return {"orders": orders, "transactions": transactions}


def snapshot(tables: dict[str, list[dict[str, Any]]], tz: str = TZ, name: str = "Berlin") -> TeamSnapshot:
    return TeamSnapshot(
        kind=KIND.name,
        team=team(tz, name),
        period=PeriodRef.of(period_of_day(DAY, tz)),
        tables=tables,
    )


def explain_all(snap: TeamSnapshot, why: str = "Check whether checkout failed") -> dict[str, Any]:
    found = KIND.detection(snap, AnomalySettings())
    return {"explanations": [{"id": f.id, "why": why} for f in found.flags]}


SETTINGS = AnomalySettings()


# ---------------------------------------------------------------------------- detection


def test_a_calm_day_flags_nothing_and_asks_no_model() -> None:
    snap = snapshot(history_tables(today_orders=41))
    assert KIND.detection(snap, SETTINGS).flags == ()
    plan = KIND.plan(snap, SETTINGS, "structured")
    assert plan.answer == {"explanations": []} and plan.answer_reason == "no anomalies flagged"
    rendered = KIND.render(snap, plan.answer, SETTINGS, "Anomalies")
    assert rendered.result == {"path": "anomalies.md", "items": 0}
    assert rendered.markdown.splitlines()[2] == (
        "No anomalies found for 2026-11-28 (Europe/Berlin); checked: orders, order revenue, transactions, "
        "expenses and duplicate charges."
    )
    KIND.check(snap, rendered.markdown, rendered.result, SETTINGS)
    assert KIND.preview(rendered.markdown).startswith("No anomalies found for 2026-11-28")


def test_a_short_history_judges_no_metric_and_says_so() -> None:
    snap = snapshot(history_tables(days=10, today_orders=200))
    found = KIND.detection(snap, SETTINGS)
    assert found.flags == () and found.history_days == 10
    rendered = KIND.render(snap, {"explanations": []}, SETTINGS, "Anomalies")
    assert "the metrics were not judged: 10 of the 14 days of history needed" in rendered.markdown
    # Exactly min_history_days is enough.
    assert detect(history_tables(days=14, today_orders=200), TZ, DAY, SETTINGS).flags


# ---------------------------------------------------------------------------- render and check


def spiky_with_hostile_duplicate() -> TeamSnapshot:
    tables = history_tables(today_orders=12)
    tables["transactions"] += [
        expense("tx-0041", DAY, 10, 4_900, "ven-9", vendor_name=HOSTILE),
        expense("tx-0042", DAY, 15, 4_900, "ven-9", vendor_name=HOSTILE),
    ]
    return snapshot(tables, name="Berlin *ops*")


def test_render_writes_the_numbers_and_escapes_vendor_names_and_the_model_text() -> None:
    snap = spiky_with_hostile_duplicate()
    answer = {
        "explanations": [
            {
                "id": "duplicate:tx-0042",
                "why": "Charged twice: ask [the vendor](javascript:x) <!here> for a refund",
            },
            {"id": "orders:2026-11-28", "why": "Orders fell to 12; check checkout"},
            {"id": "order_revenue:2026-11-28", "why": "Follows the order drop"},
        ]
    }
    rendered = KIND.render(snap, answer, SETTINGS, "Anomalies")
    lines = rendered.markdown.splitlines()
    assert lines[0] == r"# Anomalies — Berlin \*ops\*, 2026-11-28"
    assert lines[2] == "3 anomalies flagged for 2026-11-28 (Europe/Berlin)."
    bullets = [line for line in lines if line.startswith("- ")]
    assert bullets[0] == (
        "- `orders:2026-11-28` Orders: 12 against a median of 40 over the previous 28 days"
        " (-70.0%, robust z -14.0) — Orders fell to 12; check checkout"
    )
    assert bullets[1].startswith("- `order_revenue:2026-11-28` Order revenue: €3")
    dup = bullets[2]
    assert dup.startswith("- `duplicate:tx-0042` Duplicate charge: €49.00 to ")
    for raw in ("[Acme](", "<!channel>", "**@here**", "<script>", "[the vendor](", "<!here>"):
        assert raw not in rendered.markdown
    assert r"\[Acme\](javascript:alert(1)) &lt;!channel> \*\*@here\*\*" in dup
    assert_no_bidi_controls(rendered.markdown)
    assert rendered.result == {"path": "anomalies.md", "items": 3}
    KIND.check(snap, rendered.markdown, rendered.result, SETTINGS)  # "12" is the flag's own value
    assert KIND.preview(rendered.markdown) == "3 anomalies flagged for 2026-11-28 (Europe/Berlin)."


def test_the_rendered_result_meets_the_skills_contract_and_a_clean_day_is_no_empty_result() -> None:
    skill = load_skill("anomaly-flags", SKILLS)
    assert skill.empty_field is None  # items 0 is a good day, never an EmptyResult
    assert skill.mode == "structured" and skill.allowed_tools == ("flag_details",)
    model = skill.result_model()
    model.model_validate({"path": "anomalies.md", "items": 0})
    snap = spiky_with_hostile_duplicate()
    model.model_validate(KIND.render(snap, explain_all(snap), SETTINGS, "A").result)


@pytest.mark.parametrize(
    ("why", "named"),
    [
        ("Orders fell 93% since Tuesday", "93%"),  # the change is -70%
        ("Down by 35 orders", "35"),  # 28 fewer, not 35
        ("Same as on 2026-11-21", "2026-11-21"),
        ("Charged 5 times", "5"),
        ("Lost €28 of sales", "€28"),  # 28 is a count of orders here, not money
        ("Only 28% of a usual day", "28%"),
    ],
)
def test_an_invented_number_fails_the_check_naming_it(why: str, named: str) -> None:
    snap = spiky_with_hostile_duplicate()
    answer = explain_all(snap)
    answer["explanations"][0]["why"] = why
    rendered = KIND.render(snap, answer, SETTINGS, "Anomalies")
    with pytest.raises(CheckFailed, match="orders:2026-11-28") as failed:
        KIND.check(snap, rendered.markdown, rendered.result, SETTINGS)
    assert f"states {named}," in str(failed.value)


@pytest.mark.parametrize(
    "why",
    ["Orders fell 70% to 12 against a usual 40", "28 fewer orders than usual", "Only 0.3 of a normal day"],
)
def test_the_flags_own_numbers_pass(why: str) -> None:
    snap = spiky_with_hostile_duplicate()
    answer = explain_all(snap)
    answer["explanations"][0]["why"] = why
    rendered = KIND.render(snap, answer, SETTINGS, "Anomalies")
    KIND.check(snap, rendered.markdown, rendered.result, SETTINGS)


def test_a_duplicates_ids_and_amount_may_be_quoted() -> None:
    snap = spiky_with_hostile_duplicate()
    answer = explain_all(snap)
    answer["explanations"][-1]["why"] = "tx-0042 repeats tx-0041 (€49.00) on 2026-11-28; charged 2 times"
    rendered = KIND.render(snap, answer, SETTINGS, "Anomalies")
    KIND.check(snap, rendered.markdown, rendered.result, SETTINGS)


@pytest.mark.parametrize(
    ("why", "named"),
    [
        ("Likely Globex cancelled its standing orders", "Globex"),  # a customer of no row
        ("Ask Stripe whether checkout was down", "Stripe"),  # a vendor of no row
        ("Acme Corp may have billed twice", "Acme Corp"),  # a near miss of the vendor Acme GmbH
        ("Jürgen should check the shop", "Jürgen"),  # a person of no row
    ],
)
def test_an_explanation_naming_what_the_data_lacks_fails_quoting_it(why: str, named: str) -> None:
    snap = spiky_with_hostile_duplicate()
    answer = explain_all(snap)
    answer["explanations"][0]["why"] = why
    rendered = KIND.render(snap, answer, SETTINGS, "Anomalies")
    with pytest.raises(CheckFailed) as failed:
        KIND.check(snap, rendered.markdown, rendered.result, SETTINGS)
    expected = f"flag 'orders:2026-11-28' names {named!r}, which is in no row of the snapshot"
    assert expected in str(failed.value)


def test_an_explanation_naming_the_datas_vendor_team_and_ids_passes() -> None:
    snap = spiky_with_hostile_duplicate()
    answer = explain_all(snap)
    answer["explanations"][0]["why"] = "Unusual for Berlin on a Saturday; ask the owner to check it"
    answer["explanations"][1]["why"] = "Follows the Orders drop; Order revenue moves with it"
    answer["explanations"][-1]["why"] = "Acme GmbH charged tx-0042 after tx-0041; ask Acme for a refund"
    rendered = KIND.render(snap, answer, SETTINGS, "Anomalies")
    KIND.check(snap, rendered.markdown, rendered.result, SETTINGS)


def test_unknown_twice_and_missing_explanations_fail_the_check() -> None:
    snap = spiky_with_hostile_duplicate()
    good = explain_all(snap)["explanations"]

    def fails(entries: list[dict[str, Any]], match: str) -> None:
        rendered = KIND.render(snap, {"explanations": entries}, SETTINGS, "Anomalies")
        with pytest.raises(CheckFailed, match=match):
            KIND.check(snap, rendered.markdown, rendered.result, SETTINGS)

    fails(
        [*good, {"id": "orders:2026-11-27", "why": "An old drop"}], "'orders:2026-11-27', which is not a flag"
    )
    fails([*good, good[0]], "explains flag 'orders:2026-11-28' more than once")
    fails(good[1:], "does not explain flag\\(s\\) orders:2026-11-28")


def test_an_artifact_changed_after_rendering_fails_the_check() -> None:
    snap = spiky_with_hostile_duplicate()
    rendered = KIND.render(snap, explain_all(snap), SETTINGS, "Anomalies")
    with pytest.raises(CheckFailed, match="numbers of flag 'orders:2026-11-28'"):
        KIND.check(snap, rendered.markdown.replace("Orders: 12", "Orders: 13"), rendered.result, SETTINGS)
    with pytest.raises(CheckFailed, match="result says 2 items; 3"):
        KIND.check(snap, rendered.markdown, {"path": "anomalies.md", "items": 2}, SETTINGS)
    with pytest.raises(CheckFailed, match="not a flag's bullet"):
        KIND.check(snap, rendered.markdown + "\n[click](javascript:x)\n", rendered.result, SETTINGS)
    with pytest.raises(CheckFailed, match="heading"):
        KIND.check(snap, rendered.markdown.replace("2026-11-28", "2026-11-27", 1), rendered.result, SETTINGS)


# ---------------------------------------------------------------------------- plan, schedule, queries


def test_the_plan_asks_one_explanation_per_flag_by_enum() -> None:
    snap = spiky_with_hostile_duplicate()
    plan = KIND.plan(snap, SETTINGS, "structured")
    ids = ["orders:2026-11-28", "order_revenue:2026-11-28", "duplicate:tx-0042"]
    keyed = plan.result_schema["properties"]["explanations"]
    # Keyed by flag id, every id required, no other key: each flag is explained exactly once.
    assert keyed["required"] == ids and list(keyed["properties"]) == ids
    assert keyed["additionalProperties"] is False
    assert all(p["maxLength"] == 160 for p in keyed["properties"].values())
    assert plan.answer is None and plan.tools == []
    assert "<script>" not in plan.prompt and "\u2039script\u203a" in plan.prompt  # cannot close <data>
    for flag_id in ids:
        assert f"- id: {flag_id} | " in plan.prompt
    # The runner validates the answer with the skills' JSON-schema models: ids and count are enforced.
    model = model_from_json_schema(plan.result_schema, "RunResult")
    keyed_answer = {e["id"]: e["why"] for e in explain_all(snap)["explanations"]}
    model.model_validate({"explanations": keyed_answer})
    with pytest.raises(pydantic.ValidationError):
        model.model_validate({"explanations": {**keyed_answer, "orders:2026-11-27": "Old"}})
    with pytest.raises(pydantic.ValidationError):
        model.model_validate({"explanations": dict(list(keyed_answer.items())[:2])})
    # ...and a keyed answer renders as the listed one does.
    assert KIND.render(snap, {"explanations": keyed_answer}, SETTINGS, "A") == KIND.render(
        snap, explain_all(snap), SETTINGS, "A"
    )


def test_loop_mode_adds_the_read_only_flag_details_tool() -> None:
    snap = spiky_with_hostile_duplicate()
    plan = KIND.plan(snap, SETTINGS, "loop")
    assert [t.name for t in plan.tools] == ["flag_details"]
    assert plan.result_schema == KIND.plan(snap, SETTINGS, "structured").result_schema
    details = plan.tools[0].func(id="orders:2026-11-28")
    assert (
        '"value": "12"' in details and '"robust_z": -14.0' in details and '"weekday": "Saturday"' in details
    )
    with pytest.raises(ValueError, match="no flag 'x'; the flags of 2026-11-28 are: orders:2026-11-28"):
        plan.tools[0].func(id="x")
    registry = ToolRegistry()
    registry.register(plan.tools[0])
    outcome = registry.call("flag_details", '{"id": "duplicate:tx-0042"}')
    assert outcome.ok and '"same_as_transaction_id": "tx-0041"' in outcome.content
    assert "<script>" not in outcome.content  # a vendor name cannot pose as markup in the tool result


def test_due_at_the_teams_local_hour_once_a_day_across_dst() -> None:
    berlin = team()
    hours = [datetime(2026, 11, 29, h, tzinfo=UTC) for h in range(24)]
    assert [w.hour for w in hours if KIND.due(berlin, w, SETTINGS)] == [6]  # 07:00 CET
    tokyo = team("Asia/Tokyo")
    assert [w.hour for w in hours if KIND.due(tokyo, w, SETTINGS)] == [22]  # 07:00 JST the next day
    # Spring forward in Berlin (2026-03-29): 02:00 does not exist; 03:00 serves the team once.
    two = AnomalySettings(local_hour=2)
    march = [datetime(2026, 3, 28, 20, tzinfo=UTC) + timedelta(hours=h) for h in range(24)]
    assert [w.isoformat() for w in march if KIND.due(berlin, w, two)] == ["2026-03-29T01:00:00+00:00"]
    # Fall back (2026-10-25): 02:00 happens twice; only the first is due.
    october = [datetime(2026, 10, 24, 20, tzinfo=UTC) + timedelta(hours=h) for h in range(24)]
    assert [w.isoformat() for w in october if KIND.due(berlin, w, two)] == ["2026-10-25T00:00:00+00:00"]
    period = KIND.period(berlin, datetime(2026, 11, 29, 6, tzinfo=UTC), SETTINGS)
    assert period.key == "2026-11-28"


def test_queries_bind_the_window_in_utc() -> None:
    berlin = team()
    queries = KIND.queries(berlin, period_of_day(DAY, TZ), SETTINGS)
    assert set(queries) == {"orders", "transactions"}
    for query in queries.values():
        assert query.params == {
            "team_id": "team-berlin",
            "start": datetime(2026, 10, 30, 23, 0),  # local midnight of 2026-10-31 (CET), 28 days back
            "end": datetime(2026, 11, 28, 23, 0),
        }
        assert ":team_id" in query.sql and ":start" in query.sql and ":end" in query.sql


# ---------------------------------------------------------------------------- the generated business database


# One generated database per session, shared with the sql source's tests; a fresh PG schema per test.
sample_db, pg_schema = fixtures.sample_db, fixtures.pg_schema
Business = tuple[Truth, sa.Engine, dict[str, Team]]


@pytest.fixture(scope="module")
def business(sample_db: tuple[Path, Truth]) -> Iterator[Business]:
    path, truth = sample_db
    engine = sa.create_engine(f"sqlite:///{path}")
    yield truth, engine, {team.id: team for team, _ in read_teams(engine)}
    engine.dispose()


def run_for_day(business: Business, team_id: str, day: date, engine: sa.Engine | None = None) -> TeamSnapshot:
    """The snapshot of the hourly run that serves `team_id` on the morning after `day`."""
    _, sqlite, teams = business
    team_ = teams[team_id]
    morning = datetime.combine(day + timedelta(days=1), time(SETTINGS.local_hour))
    when = morning.replace(tzinfo=ZoneInfo(team_.timezone)).astimezone(UTC)
    assert KIND.due(team_, when, SETTINGS) and not KIND.due(team_, when - timedelta(hours=1), SETTINGS)
    db = engine or sqlite
    snap = team_snapshot(KIND, SETTINGS, team_, [], when, lambda queries: read_tables(db, queries))
    assert snap.period.key == day.isoformat()
    return snap


def test_every_planted_duplicate_charge_is_flagged(business: Business) -> None:
    truth = business[0]
    assert truth.duplicate_charges
    for planted in truth.duplicate_charges:
        snap = run_for_day(business, planted.team_id, planted.day)
        flags = KIND.detection(snap, SETTINGS).by_id()
        flag = flags.get(f"duplicate:{planted.duplicate_id}")
        assert flag is not None, f"{planted} not flagged; flags: {list(flags)}"
        assert (flag.original_id, flag.amount_cents, flag.vendor_id) == (
            planted.original_id,
            planted.amount_cents,
            planted.vendor_id,
        )
        # The rendered artifact of that day passes its own check, hostile names and all.
        answer = explain_all(snap, "Looks charged twice; ask for a refund")
        rendered = KIND.render(snap, answer, SETTINGS, "A")
        KIND.check(snap, rendered.markdown, rendered.result, SETTINGS)


def test_every_planted_order_volume_drop_is_flagged(business: Business) -> None:
    truth = business[0]
    assert truth.order_volume_drops
    for planted in truth.order_volume_drops:
        snap = run_for_day(business, planted.team_id, planted.day)
        flag = KIND.detection(snap, SETTINGS).by_id().get(f"orders:{planted.day.isoformat()}")
        assert flag is not None and flag.z <= -SETTINGS.threshold, f"{planted} not flagged"
        # Cancelled orders are no volume: the count is the planted rows less a few cancellations.
        assert planted.orders * 0.8 <= flag.value <= planted.orders
        assert abs(flag.median - planted.typical_orders) <= 3


def test_no_clean_day_flags_anything(business: Business) -> None:
    truth = business[0]
    assert len({c.team_id for c in truth.clean_days}) == 5
    for clean in truth.clean_days:
        snap = run_for_day(business, clean.team_id, clean.day)
        found = KIND.detection(snap, SETTINGS)
        assert found.flags == (), f"{clean}: {found.flags}"
        assert found.history_days == SETTINGS.window_days
        rendered = KIND.render(snap, {"explanations": []}, SETTINGS, "A")
        assert rendered.result["items"] == 0
        KIND.check(snap, rendered.markdown, rendered.result, SETTINGS)


def test_postgresql_gives_the_same_flags(
    business: Business, sample_db: tuple[Path, Truth], pg_schema: tuple[sa.Engine, str]
) -> None:
    engine, schema = pg_schema
    load_into(sample_db[0], engine, schema)
    truth = business[0]
    days = {(p.team_id, p.day) for p in [*truth.duplicate_charges, *truth.order_volume_drops]}
    days |= {(c.team_id, c.day) for c in truth.clean_days[:5]}
    for team_id, day in sorted(days):
        on_sqlite = KIND.detection(run_for_day(business, team_id, day), SETTINGS)
        on_postgres = KIND.detection(run_for_day(business, team_id, day, engine), SETTINGS)
        assert on_postgres == on_sqlite, (team_id, day)
