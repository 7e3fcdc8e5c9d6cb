"""`flagbridge demo` gives the dashboards two years of history, exactly counted, once."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import text

from app.cli.demo import AGENCIES, PLATFORMS
from app.cli.demo_contests import TERMS_CLAUSES
from app.cli.demo_flags import CATEGORY_PROFILE, OUTCOME_WEIGHTS
from app.cli.demo_history import CATEGORY_SHARES, TWITTER_HALVES, create_history, history_months
from app.flags.contest import CONTESTABLE
from app.vocabulary import ACTIONED, CATEGORIES, OUTCOME_ACTIONS, SCOPED_ACTIONS
from tests.cli.test_cli import cli
from tests.stats.conftest import api_counts, assert_rollups_match, direct_counts, rollup_sums


async def test_demo_history_shape_exactness_and_idempotency(
    app, client, world, database_url, tmp_path
):
    res = await cli(["demo", "--json"], database_url=database_url, data_dir=tmp_path)
    assert res.returncode == 0, res.stderr
    demo = json.loads(res.stdout)
    assert demo["history"]["months"] == 24
    observer_org = next(o for o in demo["organizations"] if o["kind"] == "observer")
    token = (
        await client.post(
            "/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": observer_org["client_id"],
                "client_secret": observer_org["client_secret"],
            },
        )
    ).json()["access_token"]
    observer = SimpleNamespace(headers={"Authorization": f"Bearer {token}"})

    months = history_months(datetime.now(UTC).date())
    span = {"from": months[0].isoformat(), "to": datetime.now(UTC).date().isoformat()}
    per_month = await api_counts(client, observer, ["month"], **span)
    # Every month of the history has hundreds of outcomes, none has tens of thousands.
    for start in months:
        assert 100 <= per_month[(start.strftime("%Y-%m"),)] <= 3000, start
    for groups in (["month", "country", "platform"], ["agency", "action", "kind", "category"]):
        got = await api_counts(client, observer, groups, **span)
        assert got == await direct_counts(
            app,
            groups,
            "(f.closed_at AT TIME ZONE 'UTC')::date >= :lo "
            "AND (f.closed_at AT TIME ZONE 'UTC')::date < :hi",
            {"lo": months[0], "hi": datetime.now(UTC).date()},
        )
    assert_rollups_match(await rollup_sums(app))
    await _assert_contests_and_statements(app, demo["history"])
    # The published reports show the contests: in the latest, enough to be counted exactly.
    latest = (await client.get("/transparency.json")).json()["latest"]["totals"]
    assert isinstance(latest["contested"], int) and latest["contested"] >= 5, latest
    assert latest["overturned"] is not None
    assert "Outcomes contested by the flagging agency:" in (await client.get("/transparency")).text

    # Twitter's self-reported totals: published half-years, 93% found by its own tools.
    resp = await client.get(
        "/v1/stats/platform-reports",
        params={**span, "group_by": "platform,month,source"},
        headers=observer.headers,
    )
    items = resp.json()["items"]
    twitter = [i for i in items if i["platform"] == "twitter"]
    by_month: dict[str, int] = {}
    own: dict[str, int] = {}
    for i in twitter:
        by_month[i["month"]] = by_month.get(i["month"], 0) + i["count"]
        if i["source"] == "own_detection":
            own[i["month"]] = i["count"]
    keys = [m.strftime("%Y-%m") for m in months]
    halves = [sum(by_month[k] for k in keys[h * 6 : h * 6 + 6]) for h in range(4)]
    assert tuple(halves) == TWITTER_HALVES
    assert round(sum(own.values()) / sum(by_month.values()), 2) == 0.93
    others = {i["platform"] for i in items} - {"twitter"}
    assert others == {"facebook", "youtube"}
    for platform in others:
        assert sum(i["count"] for i in items if i["platform"] == platform) < sum(halves)

    # Running it again creates nothing.
    async def snapshot() -> tuple[int, ...]:
        async with app.state.engine.connect() as conn:
            return tuple(
                (
                    await conn.execute(
                        text(
                            "SELECT (SELECT count(*) FROM flag), (SELECT count(*) FROM account), "
                            "(SELECT count(*) FROM platform_report), "
                            "(SELECT count(*) FROM platform_report_row), "
                            "(SELECT count(*) FROM flag_event), "
                            "(SELECT count(*) FROM outcome_statement), "
                            "(SELECT count(*) FROM flag WHERE contested_at IS NOT NULL)"
                        )
                    )
                ).one()
            )

    before = await snapshot()
    async with app.state.sessionmaker() as session, session.begin():
        again = await create_history(
            session,
            agency_names=[n for _, n in AGENCIES],
            platform_names=[n for _, n in PLATFORMS],
        )
    assert again == {}
    assert await snapshot() == before


def test_demo_draws_from_every_word_of_the_vocabulary():
    assert set(CATEGORY_PROFILE) == set(CATEGORIES)
    assert set(CATEGORY_SHARES) == set(CATEGORIES)
    # An action that needs a statement of reasons is left out of the sample flags, which
    # go through the API without statements; the history has some (see above).
    assert set(OUTCOME_WEIGHTS) == set(OUTCOME_ACTIONS) - set(SCOPED_ACTIONS)
    assert set(TERMS_CLAUSES) == {slug for slug, _ in PLATFORMS}


# Every rollup a contest or a statement changes, keyed by all its columns but the stripe.
ROLLUPS = (
    "outcome_rollup_day",
    "outcome_rollup_month",
    "contest_rollup_day",
    "statement_rollup_day",
)


async def _rollups(conn) -> dict[str, Counter]:
    out: dict[str, Counter] = {}
    for table in ROLLUPS:
        rows = await conn.execute(
            text(
                f"SELECT (to_jsonb(r) - 'stripe' - 'flags')::text, sum(flags) FROM {table} r "
                "GROUP BY 1"
            )
        )
        out[table] = +Counter({k: int(n) for k, n in rows})
    return out


async def _scalar(conn, sql: str) -> Any:
    return (await conn.execute(text(sql))).scalar_one()


async def _assert_contests_and_statements(app, history: dict[str, int]) -> None:
    """Contests (a few % of not-actioned outcomes, a third overturned, two open) and
    statements (most actioned outcomes) as the demo describes them; a rebuild of the
    rollups changes no count."""
    async with app.state.engine.connect() as conn:
        not_actioned = await _scalar(
            conn,
            "SELECT count(*) FROM flag WHERE status IN ('closed', 'reconsideration') "
            f"AND outcome_action IN {tuple(CONTESTABLE)}",
        )
        contested, overturned, open_ = (
            await conn.execute(
                text(
                    "SELECT count(*), count(*) FILTER (WHERE overturned), "
                    "count(*) FILTER (WHERE status = 'reconsideration' AND due_at IS NOT NULL "
                    "AND reconsidered_at IS NULL) FROM flag WHERE contested_at IS NOT NULL"
                )
            )
        ).one()
        assert contested == history["contests"]
        assert 0.02 <= contested / not_actioned <= 0.08, (contested, not_actioned)
        assert 0.2 <= overturned / (contested - open_) <= 0.5, (overturned, contested)
        assert open_ == 2
        # Every contest in its window, answered after it, overturned as the domain says.
        assert not await _scalar(
            conn,
            "SELECT count(*) FROM flag WHERE contested_at IS NOT NULL AND (contested_at "
            "< closed_at OR contested_at > closed_at + interval '30 days' OR "
            "reconsidered_at < contested_at OR outcome_action NOT IN "
            f"{tuple(CONTESTABLE)} OR (reconsidered_action IN {tuple(ACTIONED)}) "
            "IS DISTINCT FROM overturned)",
        )
        statements = await conn.execute(
            text(
                "SELECT s.decision, s.action, s.ground, s.territorial_scope, f.country, "
                "s.legal_provision = f.legal_basis, s.automated_decision "
                "FROM outcome_statement s JOIN flag f ON f.id = s.flag_id"
            )
        )
        rows = statements.all()
        assert len(rows) == history["statements"]
        closed = await _scalar(conn, "SELECT count(*) FROM flag WHERE closed_at IS NOT NULL")
        assert 0.4 <= sum(r[0] == 1 for r in rows) / closed <= 0.8
        assert {r[2] for r in rows} == {"illegal_content", "terms_of_service"}
        assert all(r[5] for r in rows if r[2] == "illegal_content")
        assert {r[6] for r in rows} == {"fully", "partially", "not_automated"}
        assert sum(r[3] is None for r in rows) / len(rows) > 0.9
        withheld = [r for r in rows if r[1] == "account_withheld_in_country"]
        assert len(withheld) >= 3
        assert all(r[3] == [r[4]] for r in withheld)
        assert any(r[0] == 2 for r in rows)
        before = await _rollups(conn)
    async with app.state.sessionmaker() as session, session.begin():
        await session.execute(text("SELECT fb_stats_rebuild()"))
    async with app.state.engine.connect() as conn:
        assert await _rollups(conn) == before
