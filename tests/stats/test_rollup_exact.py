"""The rollups always equal a direct COUNT(*) over the flag table.

Randomised sequences of submissions, acknowledgements, questions, outcomes (single and
batched) and withdrawals through the API; concurrent outcomes from separate clients; the
fold job; and changes that do not go through the state machine (a backdating fix-up).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from app.stats import service as stats
from tests.stats.conftest import (
    api_counts,
    assert_rollups_match,
    close,
    direct_counts,
    rollup_sums,
    submit,
)

ALL_GROUPS = ["country", "agency", "platform", "kind", "category", "action", "day"]
ACTIONS = ["account_suspended", "content_removed", "no_violation", "account_not_found"]
CATEGORIES = ["propaganda", "recruitment", "threat"]


def last_year() -> dict[str, str]:
    """A range holding every flag these tests make (the longest a day grouping allows)."""
    today = datetime.now(UTC).date()
    return {
        "from": (today - timedelta(days=364)).isoformat(),
        "to": (today + timedelta(days=2)).isoformat(),
    }


async def assert_exact(app, client, cast) -> None:
    """Every view of the rollups equals the flag table right now."""
    observer = cast["observer"]
    for groups in (ALL_GROUPS, ["month"], []):
        assert await api_counts(client, observer, groups, **last_year()) == await direct_counts(
            app, groups
        )
    assert_rollups_match(await rollup_sums(app))

    resp = await client.get("/v1/stats/agencies", headers=observer.headers)
    assert resp.status_code == 200, resp.text
    got = {i["agency"]["id"]: i for i in resp.json()["items"]}
    async with app.state.engine.connect() as conn:
        rows = await conn.execute(
            text(
                """
                SELECT agency_org_id::text, count(*),
                       count(*) FILTER (WHERE status = 'closed'),
                       count(*) FILTER (WHERE status = 'withdrawn'),
                       count(*) FILTER (WHERE status = 'closed' AND outcome_action IN (
                           'account_suspended', 'content_removed', 'account_restricted'))
                FROM flag GROUP BY agency_org_id
                """
            )
        )
        for agency, sent, closed, withdrawn, actioned in rows:
            item = got[agency]
            assert (item["flags_sent"], item["closed"], item["withdrawn"], item["actioned"]) == (
                sent,
                closed,
                withdrawn,
                actioned,
            )
            assert item["live"] == sent - closed - withdrawn

    resp = await client.get(
        "/v1/stats/response-times", params=last_year(), headers=observer.headers
    )
    assert resp.status_code == 200, resp.text
    items = resp.json()["items"]
    sums = await rollup_sums(app)
    assert sum(i["outcome"]["count"] for i in items) == sums["closed"]
    assert sum(i["acknowledge"]["count"] for i in items) == sums["acknowledged"]


STEP = st.one_of(
    st.tuples(
        st.just("submit"),
        st.sampled_from(["id", "au"]),
        st.sampled_from(["twitter", "youtube"]),
        st.sampled_from(CATEGORIES),
        st.sampled_from(["referral", "removal_order"]),
    ),
    st.tuples(st.just("ack"), st.integers(0, 30)),
    st.tuples(st.just("question"), st.integers(0, 30)),
    st.tuples(st.just("answer"), st.integers(0, 30)),
    st.tuples(st.just("outcome"), st.integers(0, 30), st.sampled_from(ACTIONS)),
    st.tuples(st.just("withdraw"), st.integers(0, 30)),
    # The fold job running in between: answers must not change, folded or pending.
    st.tuples(st.just("fold")),
    st.tuples(
        st.just("batch"),
        st.lists(
            st.tuples(
                st.integers(0, 30), st.sampled_from(["ack", "outcome"]), st.sampled_from(ACTIONS)
            ),
            min_size=1,
            max_size=4,
        ),
    ),
)


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)
@given(steps=st.lists(STEP, min_size=1, max_size=14))
async def test_rollups_equal_direct_counts_after_random_sequences(app, client, cast, steps):
    flags: list[dict[str, Any]] = []

    def pick(i: int) -> dict[str, Any] | None:
        return flags[i % len(flags)] if flags else None

    for step in steps:
        kind = step[0]
        if kind == "fold":
            await stats.fold_stripes(sessionmaker=app.state.sessionmaker)
            continue
        if kind == "submit":
            _, agency, platform, category, flag_kind = step
            flag = await submit(client, cast[agency], platform, category=category, kind=flag_kind)
            flags.append({"id": flag["id"], "agency": agency, "platform": platform})
            continue
        if kind == "batch":
            by_platform: dict[str, list[dict[str, Any]]] = {}
            for i, item_type, action in step[1]:
                flag = pick(i)
                if flag is None:
                    continue
                item = {"flag_id": flag["id"], "type": item_type}
                if item_type == "outcome":
                    item["action"] = action
                by_platform.setdefault(flag["platform"], []).append(item)
            for platform, items in by_platform.items():
                resp = await client.post(
                    "/v1/outcomes/batch", json={"items": items}, headers=cast[platform].headers
                )
                assert resp.status_code == 200, resp.text
            continue
        flag = pick(step[1])
        if flag is None:
            continue
        platform, agency = cast[flag["platform"]], cast[flag["agency"]]
        path, who, body = {
            "ack": ("ack", platform, None),
            "question": ("request-info", platform, {"question": "Which post?"}),
            "answer": ("info", agency, {"note": "The pinned one."}),
            "outcome": ("outcome", platform, {"action": step[-1]}),
            "withdraw": ("withdraw", agency, {"reason": "duplicate"}),
        }[kind]
        resp = await client.post(f"/v1/flags/{flag['id']}/{path}", json=body, headers=who.headers)
        # Transitions the state machine refuses are 409 and must change nothing.
        assert resp.status_code in (200, 409), resp.text
    await assert_exact(app, client, cast)


async def test_concurrent_outcomes_from_separate_clients_are_all_counted(app, client, cast):
    # Same agency, platform, kind and category: every outcome lands on the same rollup key.
    flags = [await submit(client, cast["id"], "twitter") for _ in range(24)]

    async def outcome(flag_id: str) -> int:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            resp = await c.post(
                f"/v1/flags/{flag_id}/outcome",
                json={"action": "account_suspended"},
                headers=cast["twitter"].headers,
            )
            return resp.status_code

    statuses = await asyncio.gather(*(outcome(f["id"]) for f in flags))
    assert statuses == [200] * len(flags)
    counts = await api_counts(client, cast["observer"], ["agency", "action"])
    assert counts == {(cast["id"].org_id, "account_suspended"): len(flags)}
    await assert_exact(app, client, cast)


async def test_concurrent_batches_closing_keys_in_opposite_orders_all_succeed(app, client, cast):
    # Two transactions that close flags of two keys in opposite orders: with shared hot
    # rows they could deadlock; each transaction writes its own rows, so both commit.
    pairs = []
    for _ in range(6):
        a = await submit(client, cast["id"], "twitter", category="propaganda")
        b = await submit(client, cast["id"], "twitter", category="recruitment")
        pairs.append((a["id"], b["id"]))

    def batch(ids: list[str]) -> dict[str, Any]:
        return {
            "items": [{"flag_id": i, "type": "outcome", "action": "account_suspended"} for i in ids]
        }

    forward = [x for a, b in pairs[:3] for x in (a, b)]
    backward = [x for a, b in pairs[3:] for x in (b, a)]

    async def post(body: dict[str, Any]) -> httpx.Response:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            return await c.post("/v1/outcomes/batch", json=body, headers=cast["twitter"].headers)

    results = await asyncio.gather(post(batch(forward)), post(batch(backward)))
    for resp in results:
        assert resp.status_code == 200, resp.text
        assert {r["status"] for r in resp.json()["results"]} == {200}
    counts = await api_counts(client, cast["observer"], ["category"])
    assert counts == {("propaganda",): 6, ("recruitment",): 6}
    await assert_exact(app, client, cast)


async def test_withdrawn_flags_never_count_as_outcomes(app, client, cast):
    kept = await submit(client, cast["id"], "twitter")
    dropped = await submit(client, cast["id"], "twitter")
    resp = await client.post(
        f"/v1/flags/{dropped['id']}/withdraw", json={"reason": "x"}, headers=cast["id"].headers
    )
    assert resp.status_code == 200, resp.text
    await close(client, cast["twitter"], kept["id"])
    # A withdrawn flag cannot be closed afterwards (409), so it can never be counted.
    resp = await client.post(
        f"/v1/flags/{dropped['id']}/outcome",
        json={"action": "account_suspended"},
        headers=cast["twitter"].headers,
    )
    assert resp.status_code == 409
    assert await api_counts(client, cast["observer"], []) == {("all",): 1}
    await assert_exact(app, client, cast)


async def test_folding_moves_rows_without_changing_any_sum(app, client, cast):
    for i in range(6):
        flag = await submit(client, cast["id" if i % 2 else "au"], "twitter")
        await close(client, cast["twitter"], flag["id"], ACTIONS[i % len(ACTIONS)])
    gone = await submit(client, cast["au"], "youtube")
    resp = await client.post(
        f"/v1/flags/{gone['id']}/withdraw", json={"reason": "x"}, headers=cast["au"].headers
    )
    assert resp.status_code == 200
    before = await api_counts(client, cast["observer"], ALL_GROUPS)
    async with app.state.engine.connect() as conn:
        unfolded = (
            await conn.execute(text("SELECT count(*) FROM outcome_rollup_day WHERE stripe <> 0"))
        ).scalar_one()
        folded_months = (
            await conn.execute(text("SELECT count(*) FROM outcome_rollup_month"))
        ).scalar_one()
    assert unfolded > 0
    assert folded_months == 0  # only the fold writes the month tables

    moved = await stats.fold_stripes(sessionmaker=app.state.sessionmaker, batch=3)
    assert moved >= unfolded
    async with app.state.engine.connect() as conn:
        for table in ("outcome_rollup_day", "response_time_rollup_day", "withdrawal_rollup"):
            left = (
                await conn.execute(text(f"SELECT count(*) FROM {table} WHERE stripe <> 0"))
            ).scalar_one()
            assert left == 0, table
    assert await api_counts(client, cast["observer"], ALL_GROUPS) == before
    await assert_exact(app, client, cast)

    # Outcomes after a fold add new rows again, and a second fold merges them too.
    flag = await submit(client, cast["id"], "twitter")
    await close(client, cast["twitter"], flag["id"])
    await stats.fold_stripes(sessionmaker=app.state.sessionmaker)
    await assert_exact(app, client, cast)


async def test_changes_outside_the_state_machine_stay_exact(app, client, cast):
    # A data fix-up that moves a closed flag to another month (and changes its category)
    # moves its count with it; rebuilding from scratch gives the same rollups.
    flags = [await submit(client, cast["id"], "youtube") for _ in range(3)]
    for f in flags:
        await close(client, cast["youtube"], f["id"])
    back = datetime.now(UTC) - timedelta(days=40)
    async with app.state.engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE flag SET opened_at = CAST(:t AS timestamptz) - interval '2 hours', "
                "acknowledged_at = :t, closed_at = :t, category = 'financing' WHERE id = :id"
            ),
            {"t": back, "id": flags[0]["id"]},
        )
    wide = {
        "from": (back.date() - timedelta(days=1)).isoformat(),
        "to": (datetime.now(UTC).date() + timedelta(days=2)).isoformat(),
    }
    got = await api_counts(client, cast["observer"], ["month", "category"], **wide)
    assert got == await direct_counts(app, ["month", "category"])
    assert got[(back.strftime("%Y-%m"), "financing")] == 1
    await assert_exact(app, client, cast)

    async with app.state.engine.begin() as conn:
        await conn.execute(text("SELECT fb_stats_rebuild()"))
    assert await api_counts(client, cast["observer"], ["month", "category"], **wide) == got
    await assert_exact(app, client, cast)


# Every rollup key with what it adds up to over all stripes (pending and folded alike).
ROLLUP_KEYS = {
    "outcome_rollup_day": "day, country, agency_org_id, platform, kind, category, action",
    "response_time_rollup_day": "day, platform, priority, kind, measure, bucket",
    "withdrawal_rollup": "agency_org_id, month",
}


async def rollup_keys(conn) -> dict[str, set[tuple[Any, ...]]]:
    """Each day-level rollup table as its (key..., sum) rows, zero sums left out."""
    out = {}
    for table, key in ROLLUP_KEYS.items():
        rows = await conn.execute(
            text(f"SELECT {key}, sum(flags) FROM {table} GROUP BY {key} HAVING sum(flags) <> 0")
        )
        out[table] = {tuple(r) for r in rows}
    return out


async def test_one_statement_changing_many_flags_moves_every_count(app, client, cast):
    # The update trigger works per statement, over all the rows one UPDATE changed: one
    # statement that moves a closed flag, reopens another, withdraws a third, acknowledges
    # a fourth and only touches the rest leaves every rollup key as a rebuild computes it.
    flags = [await submit(client, cast["id"], "youtube") for _ in range(6)]
    for f in flags[:3]:
        await close(client, cast["youtube"], f["id"])
    ids = [f["id"] for f in flags]
    back = datetime.now(UTC) - timedelta(days=40)
    async with app.state.engine.begin() as conn:
        before = await rollup_keys(conn)
        await conn.execute(
            text(
                """
                UPDATE flag SET
                    closed_at = CASE WHEN id = :moved THEN CAST(:t AS timestamptz)
                                     WHEN id = :reopened THEN NULL ELSE closed_at END,
                    category = CASE WHEN id = :moved THEN 'financing' ELSE category END,
                    status = CASE WHEN id = :reopened THEN 'acknowledged'
                                  WHEN id = :withdrawn THEN 'withdrawn'
                                  WHEN id = :acked THEN 'acknowledged' ELSE status END,
                    outcome_action = CASE WHEN id = :reopened THEN NULL
                                          ELSE outcome_action END,
                    withdrawn_at = CASE WHEN id = :withdrawn THEN now() ELSE withdrawn_at END,
                    acknowledged_at = CASE WHEN id = :acked THEN now()
                                           ELSE acknowledged_at END,
                    summary = 'touched by a fix-up'
                WHERE id = ANY(CAST(:ids AS uuid[]))
                """
            ),
            {
                "t": back,
                "moved": flags[0]["id"],
                "reopened": flags[1]["id"],
                "withdrawn": flags[3]["id"],
                "acked": flags[4]["id"],
                "ids": ids,
            },
        )
        after = await rollup_keys(conn)
    assert after != before
    await assert_exact(app, client, cast)
    async with app.state.engine.connect() as conn, conn.begin() as tx:
        await conn.execute(text("SELECT fb_stats_rebuild()"))
        assert await rollup_keys(conn) == after
        await tx.rollback()


async def test_stats_rebuild_repairs_a_damaged_rollup_and_is_audited(
    app, client, cast, database_url, tmp_path
):
    import json

    from tests.cli.test_cli import cli

    for _ in range(3):
        flag = await submit(client, cast["id"], "twitter")
        await close(client, cast["twitter"], flag["id"])
    # Damage the rollup behind the service's back (a restore gone wrong, say).
    async with app.state.engine.begin() as conn:
        await conn.execute(text("DELETE FROM outcome_rollup_day"))
    assert await api_counts(client, cast["observer"], ["platform"], **last_year()) != (
        await direct_counts(app, ["platform"])
    )
    res = await cli(["stats", "rebuild", "--json"], database_url=database_url, data_dir=tmp_path)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["closed_flags"] == 3 and out["rollup_before"] == 0 and out["drift_fixed"] == 3
    await assert_exact(app, client, cast)
    async with app.state.engine.connect() as conn:
        logged = (
            await conn.execute(text("SELECT data FROM audit_entry WHERE action = 'stats.rebuilt'"))
        ).scalar_one()
    assert logged["drift_fixed"] == 3
    res = await cli(["stats", "fold", "--json"], database_url=database_url, data_dir=tmp_path)
    assert res.returncode == 0, res.stderr
    await assert_exact(app, client, cast)
