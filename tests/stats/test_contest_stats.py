"""Contests in the statistics: first outcomes, contested and overturned counts stay exact
(random histories against direct counts), the dashboards and health figures show them,
and transparency reports publish them suppressed like every other figure."""

from __future__ import annotations

from collections import Counter
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from app.stats import service as stats
from tests.conftest import Party
from tests.stats.conftest import (
    GROUP_SQL,
    api_key,
    assert_rollups_match,
    close,
    direct_counts,
    rollup_sums,
    submit,
)
from tests.stats.test_rollup_exact import ACTIONS, ALL_GROUPS, last_year
from tests.stats.transparency_helpers import (
    page_text,
    publish_now,
    seed_outcomes,
    small_numbers_in_page,
)

EVIDENCE = [{"url": "https://evidence.example.gov/case/9/capture.png"}]


async def contest(client, agency: Party, flag_id: str) -> int:
    resp = await client.post(
        f"/v1/flags/{flag_id}/contest",
        json={"reason": "New evidence", "evidence": EVIDENCE},
        headers=agency.headers,
    )
    return resp.status_code


async def reconsider(client, platform: Party, flag_id: str, action: str) -> int:
    resp = await client.post(
        f"/v1/flags/{flag_id}/outcome",
        json={"action": action, "reconsidered": True},
        headers=platform.headers,
    )
    return resp.status_code


async def api_contests(client, observer: Party, groups: list[str]) -> dict[str, Counter]:
    query = {"group_by": ",".join(groups), **last_year()}
    resp = await client.get("/v1/stats/outcomes", params=query, headers=observer.headers)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    out = {m: Counter() for m in ("contested", "overturned")}
    for item in body["items"]:
        for measure, counter in out.items():
            if item[measure]:
                counter[api_key(item, groups)] = item[measure]
    for measure, counter in out.items():
        assert body[measure] == sum(counter.values())
    return out


async def direct_contests(app, groups: list[str]) -> dict[str, Counter]:
    cols = [GROUP_SQL[g] for g in groups]
    grouping = f" GROUP BY {', '.join(cols)}" if cols else ""
    out = {}
    async with app.state.engine.connect() as conn:
        for measure, where in (
            ("contested", "f.contested_at IS NOT NULL"),
            ("overturned", "f.overturned"),
        ):
            rows = await conn.execute(
                text(f"SELECT {', '.join([*cols, 'count(*)'])} FROM flag f WHERE {where}{grouping}")
            )
            out[measure] = +Counter({tuple(r[:-1]) or ("all",): int(r[-1]) for r in rows})
    return out


async def contest_rollup_totals(app) -> dict[str, int]:
    async with app.state.engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT measure, sum(flags) FROM contest_rollup_day GROUP BY measure")
        )
        return {m: int(n) for m, n in rows if n}


async def assert_exact(app, client, cast) -> None:
    """First outcomes, contests and overturned outcomes equal the flag table, by the API."""
    observer = cast["observer"]
    for groups in (ALL_GROUPS, ["month", "action"], []):
        got = await api_contests(client, observer, groups)
        want = await direct_contests(app, groups)
        assert got == want, groups
        resp = await client.get(
            "/v1/stats/outcomes",
            params={"group_by": ",".join(groups), **last_year()},
            headers=observer.headers,
        )
        firsts = Counter({api_key(i, groups): i["count"] for i in resp.json()["items"]})
        assert firsts == await direct_counts(app, groups)
    assert_rollups_match(await rollup_sums(app))
    want = await direct_contests(app, [])
    assert await contest_rollup_totals(app) == {m: c[("all",)] for m, c in want.items() if c}


FLAG = st.integers(0, 5)
STEP = st.one_of(
    st.tuples(st.just("submit"), st.sampled_from(["id", "au"]), st.sampled_from(["twitter"])),
    st.tuples(st.just("outcome"), FLAG, st.sampled_from(ACTIONS)),
    st.tuples(st.just("contest"), FLAG),
    st.tuples(st.just("reconsider"), FLAG, st.sampled_from(ACTIONS)),
    # A whole round on one flag: its first outcome, the contest, maybe the final answer.
    st.tuples(
        st.just("round"),
        FLAG,
        st.sampled_from(ACTIONS),
        st.one_of(st.none(), st.sampled_from(ACTIONS)),
    ),
    st.tuples(st.just("batch"), FLAG, st.sampled_from(ACTIONS)),
    st.tuples(st.just("fold")),
    # A fix-up by hand that does not go through the state machine.
    st.tuples(st.just("recategorise"), FLAG),
)


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)
@given(steps=st.lists(STEP, min_size=1, max_size=14))
@example(
    steps=[
        ("submit", "id", "twitter"),
        ("submit", "au", "twitter"),
        ("round", 0, "no_violation", None),
        ("round", 1, "account_not_found", "content_removed"),
        ("fold",),
        ("recategorise", 0),
        ("recategorise", 1),
    ]
)
async def test_contest_counts_equal_direct_counts_after_random_sequences(app, client, cast, steps):
    flags: list[dict[str, Any]] = []
    for step in steps:
        kind = step[0]
        if kind == "fold":
            await stats.fold_stripes(sessionmaker=app.state.sessionmaker)
            continue
        if kind == "submit":
            flag = await submit(client, cast[step[1]], step[2])
            flags.append({"id": flag["id"], "agency": step[1], "platform": step[2]})
            continue
        if not flags:
            continue
        flag = flags[step[1] % len(flags)]
        agency, platform = cast[flag["agency"]], cast[flag["platform"]]
        if kind == "round":
            await client.post(
                f"/v1/flags/{flag['id']}/outcome",
                json={"action": step[2]},
                headers=platform.headers,
            )
            status = await contest(client, agency, flag["id"])
            if step[3] is not None:
                status = await reconsider(client, platform, flag["id"], step[3])
        elif kind == "outcome":
            resp = await client.post(
                f"/v1/flags/{flag['id']}/outcome",
                json={"action": step[2]},
                headers=platform.headers,
            )
            status = resp.status_code
        elif kind == "contest":
            status = await contest(client, agency, flag["id"])
        elif kind == "reconsider":
            status = await reconsider(client, platform, flag["id"], step[2])
        elif kind == "batch":
            item = {"flag_id": flag["id"], "type": "outcome", "action": step[2]}
            resp = await client.post(
                "/v1/outcomes/batch",
                json={"items": [item, {**item, "reconsidered": True}]},
                headers=platform.headers,
            )
            assert resp.status_code == 200, resp.text
            status = 200
        else:
            async with app.state.engine.begin() as conn:
                await conn.execute(
                    text(
                        "UPDATE flag SET category = CASE category WHEN 'threat' "
                        "THEN 'propaganda' ELSE 'threat' END WHERE id = :id"
                    ),
                    {"id": flag["id"]},
                )
            status = 200
        # What the rules refuse is a 409 and changes nothing.
        assert status in (200, 409), (step, status)
    await assert_exact(app, client, cast)
    # A rebuild from the flags gives the same answers.
    async with app.state.engine.begin() as conn:
        await conn.execute(text("SELECT fb_stats_rebuild()"))
    await assert_exact(app, client, cast)


async def test_outcomes_count_first_outcomes_with_contests_and_overturns(app, client, cast):
    agency, platform, observer = cast["id"], cast["twitter"], cast["observer"]
    ids = [(await submit(client, agency, "twitter"))["id"] for _ in range(4)]
    for fid in ids:
        await close(client, platform, fid, "no_violation")
    for fid in ids[:3]:
        assert await contest(client, agency, fid) == 200
    assert await reconsider(client, platform, ids[0], "account_suspended") == 200
    assert await reconsider(client, platform, ids[1], "account_not_found") == 200
    # ids[2] is still in reconsideration: it counts with its first outcome meanwhile.
    resp = await client.get(
        "/v1/stats/outcomes", params={"group_by": "action"}, headers=observer.headers
    )
    body = resp.json()
    assert body["items"] == [
        {"action": "no_violation", "count": 4, "contested": 3, "overturned": 1}
    ]
    assert (body["total"], body["contested"], body["overturned"]) == (4, 3, 1)

    # Agency health counts the flag in reconsideration once (closed, not live too).
    health = await client.get("/v1/stats/agencies", headers=observer.headers)
    mine = next(i for i in health.json()["items"] if i["agency"]["id"] == agency.org_id)
    assert (mine["flags_sent"], mine["closed"], mine["live"]) == (4, 4, 0)
    # The platform owes an answer on the contested flag: it is unanswered, not closed.
    platforms = await client.get("/v1/stats/platforms", headers=observer.headers)
    row = next(i for i in platforms.json()["items"] if i["platform"] == "twitter")
    assert (row["unanswered"], row["overdue"]) == (1, 0)
    # Past its new deadline, it is overdue like any unanswered flag.
    async with app.state.engine.begin() as conn:
        await conn.execute(
            text("UPDATE flag SET due_at = now() - interval '1 hour' WHERE id = :id"),
            {"id": ids[2]},
        )
    platforms = await client.get("/v1/stats/platforms", headers=observer.headers)
    row = next(i for i in platforms.json()["items"] if i["platform"] == "twitter")
    assert (row["unanswered"], row["overdue"]) == (1, 1)
    times = await client.get(
        "/v1/stats/response-times", params={"group_by": "platform"}, headers=observer.headers
    )
    assert [i["overdue"] for i in times.json()["items"] if i["platform"] == "twitter"] == [1]
    await assert_exact(app, client, cast)


async def test_a_report_publishes_contests_suppressed(world, client):
    parties = await seed_outcomes(
        world, client, {("ID", "chirp", "no_violation"): 7, ("ID", "chirp", "account_suspended"): 5}
    )
    agency, platform = parties["ID"], parties["chirp"]
    listed = await client.get(
        "/v1/flags", params={"status": "closed", "limit": 100}, headers=agency.headers
    )
    not_actioned = [
        f["id"] for f in listed.json()["items"] if f["outcome"]["action"] == "no_violation"
    ]
    for fid in not_actioned[:6]:
        assert await contest(client, agency, fid) == 200
    for fid in not_actioned[:2]:
        assert await reconsider(client, platform, fid, "account_suspended") == 200
    await publish_now(world)
    totals = (await client.get("/transparency.json")).json()["latest"]["totals"]
    assert totals["flags_answered"] == 12
    assert totals["contested"] == 6
    assert totals["overturned"] == "<5"
    html = (await client.get("/transparency")).text
    shown = " ".join("".join(page_text(html).texts).split())
    assert "Outcomes contested by the flagging agency: 6." in shown
    assert "Overturned on reconsideration: <5." in shown
    assert small_numbers_in_page(html) == []
