"""`flagbridge demo` gives the dashboards two years of history, exactly counted, once."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from types import SimpleNamespace

from sqlalchemy import text

from app.cli.demo import AGENCIES, PLATFORMS
from app.cli.demo_flags import CATEGORY_PROFILE, OUTCOME_WEIGHTS
from app.cli.demo_history import CATEGORY_SHARES, TWITTER_HALVES, create_history, history_months
from app.vocabulary import CATEGORIES, OUTCOME_ACTIONS, SCOPED_ACTIONS
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
                            "(SELECT count(*) FROM flag_event)"
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
    # An action that needs a statement of reasons is left to the API: the history is
    # written in bulk, without statements.
    assert set(OUTCOME_WEIGHTS) == set(OUTCOME_ACTIONS) - set(SCOPED_ACTIONS)
