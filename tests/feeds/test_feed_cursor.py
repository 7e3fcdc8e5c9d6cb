"""The feed: exactly-once delivery across out-of-order commits, long-polling, cursors,
delivery marking, and which events each kind of organisation gets."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
import uuid
from typing import Any

import asyncpg
import pytest
from sqlalchemy import text

from app.flags.schemas import FlagCreate
from app.identity.service import identity_of
from app.kit.pagination import decode_cursor, encode_cursor
from tests.conftest import Party, assert_problem, flag_body, party


@pytest.fixture
async def cast(world):
    return {
        "agency": await party(world, "agency", country="ID"),
        "other_agency": await party(world, "agency", country="MY"),
        "platform": await party(world, "platform", platform="twitter"),
    }


def asyncpg_dsn(database_url: str) -> str:
    return database_url.replace("postgresql+asyncpg://", "postgresql://", 1)


def position(cursor: str) -> tuple[int, int]:
    """The (txid, id) a feed cursor points after."""
    txid, event_id, _issued = decode_cursor(cursor, arity=3)
    return int(txid), int(event_id)


async def read(client, who: Party, cursor: str | None = None, **params: Any) -> dict[str, Any]:
    if cursor:
        params["cursor"] = cursor
    resp = await client.get("/v1/feed", params=params, headers=who.headers)
    assert resp.status_code == 200, resp.text
    page = resp.json()
    if cursor:
        assert position(page["next_cursor"]) >= position(cursor), "cursor went backwards"
    return dict(page)


async def drain(client, who: Party, cursor: str | None = None) -> tuple[list[dict], str]:
    """Every event after cursor, and the cursor after the last one."""
    items: list[dict[str, Any]] = []
    while True:
        page = await read(client, who, cursor)
        cursor = page["next_cursor"]
        if not page["items"]:
            return items, cursor
        items += page["items"]


async def submit(client, who: Party, **body: Any) -> dict[str, Any]:
    resp = await client.post("/v1/flags", json=flag_body("twitter", **body), headers=who.headers)
    assert resp.status_code == 201, resp.text
    return dict(resp.json())


async def submit_raw(conn: asyncpg.Connection, who: Party, country: str = "ID") -> str:
    """Submit a flag with fb_submit_flag on conn, inside whatever transaction it has open."""
    flag = FlagCreate.model_validate(flag_body("twitter")).model_dump(mode="json")
    flag["identity"] = identity_of("twitter", flag["account"])
    raw = await conn.fetchval(
        "SELECT fb_submit_flag($1, $2, $3, $4::jsonb, NULL, NULL)::text",
        uuid.UUID(who.org_id),
        uuid.UUID(who.creds.client_id),
        country,
        json.dumps(flag),
    )
    result = json.loads(raw)
    assert result["status"] == 201, result
    return str(result["body"]["id"])


def created_ids(items: list[dict[str, Any]]) -> list[str]:
    return [e["flag"]["id"] for e in items if e["type"] == "flag.created"]


async def test_out_of_order_commits_are_neither_skipped_nor_repeated(
    app, client, cast, database_url
):
    agency, platform = cast["agency"], cast["platform"]
    first = await submit(client, agency)
    items, cursor = await drain(client, platform)
    assert created_ids(items) == [first["id"]]

    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        tx = conn.transaction()
        await tx.start()
        # This event takes the earlier id, but its transaction stays open...
        slow_id = await submit_raw(conn, agency)
        slow_event = await conn.fetchrow(
            "SELECT id, txid::text::bigint AS txid FROM feed_event WHERE flag_id = $1", slow_id
        )
        # ...while a later event (later id, later txid) commits first.
        fast = await submit(client, agency)
        async with app.state.engine.connect() as other:
            fast_event = (
                await other.execute(
                    text("SELECT id, txid::text::bigint FROM feed_event WHERE flag_id = :f"),
                    {"f": fast["id"]},
                )
            ).one()
        assert fast_event[0] > slow_event["id"] and fast_event[1] > slow_event["txid"]

        # A reader that remembered "the last id" would take the fast event now and skip the
        # slow one for ever. The feed holds the fast one back until the slow one is decided.
        page = await read(client, platform, cursor)
        assert page["items"] == []
        assert position(page["next_cursor"]) == position(cursor)
        cursor = page["next_cursor"]
        await tx.commit()
    finally:
        await conn.close()

    items, end = await drain(client, platform, cursor)
    assert created_ids(items) == [slow_id, fast["id"]]
    assert [e["type"] for e in items] == ["flag.created", "flag.created"]
    again, _ = await drain(client, platform, end)
    assert again == []


async def test_a_rolled_back_transaction_releases_the_events_behind_it(client, cast, database_url):
    agency, platform = cast["agency"], cast["platform"]
    _, cursor = await drain(client, platform)
    conn = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        tx = conn.transaction()
        await tx.start()
        await submit_raw(conn, agency)
        fast = await submit(client, agency)
        assert (await read(client, platform, cursor))["items"] == []
        await tx.rollback()
    finally:
        await conn.close()
    items, _ = await drain(client, platform, cursor)
    assert created_ids(items) == [fast["id"]]


async def test_concurrent_writers_and_a_follower_see_every_event_exactly_once(
    app, client, cast, database_url
):
    agencies = [cast["agency"], cast["other_agency"]]
    platform = cast["platform"]
    tasks, per_task, slow_txs, per_slow, batch_size = 8, 25, 4, 2, 20
    expected_total = tasks * per_task + slow_txs * per_slow + batch_size
    done = asyncio.Event()
    rng = random.Random(1234)

    async def submitter(n: int) -> None:
        for _ in range(per_task):
            await submit(client, agencies[n % 2])

    async def slow_writer(n: int) -> None:
        # A transaction that takes its ids early and commits late, interleaved with the rest.
        conn = await asyncpg.connect(asyncpg_dsn(database_url))
        try:
            async with conn.transaction():
                for _ in range(per_slow):
                    await submit_raw(conn, agencies[n % 2], "ID" if n % 2 == 0 else "MY")
                await conn.execute("SELECT pg_sleep($1)", 0.1 + rng.random() * 0.3)
        finally:
            await conn.close()

    async def batcher() -> None:
        body = {"flags": [flag_body("twitter") for _ in range(batch_size)]}
        resp = await client.post("/v1/flags/batch", json=body, headers=agencies[0].headers)
        assert resp.status_code == 200, resp.text
        assert {r["status"] for r in resp.json()["results"]} == {201}

    seen: list[str] = []
    event_ids: list[str] = []

    async def follower() -> None:
        cursor = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            page = await read(client, platform, cursor, limit=17, wait=1)
            cursor = page["next_cursor"]
            seen.extend(created_ids(page["items"]))
            event_ids.extend(e["event_id"] for e in page["items"])
            if done.is_set() and len(seen) >= expected_total and not page["items"]:
                return

    async def producers() -> None:
        try:
            await asyncio.gather(
                *(submitter(n) for n in range(tasks)),
                *(slow_writer(n) for n in range(slow_txs)),
                batcher(),
            )
        finally:
            done.set()

    await asyncio.gather(follower(), producers())

    async with app.state.engine.connect() as conn:
        all_ids = [str(r[0]) for r in await conn.execute(text("SELECT id FROM flag"))]
    assert len(all_ids) == expected_total
    assert len(seen) == len(set(seen)), "an event was delivered twice"
    assert len(event_ids) == len(set(event_ids))
    assert set(seen) == set(all_ids)


async def test_long_poll_returns_as_soon_as_an_event_arrives(app, client, cast):
    agency, platform = cast["agency"], cast["platform"]
    await submit(client, agency)
    _, cursor = await drain(client, platform)

    async def last_polled() -> Any:
        async with app.state.engine.connect() as conn:
            return (
                await conn.execute(
                    text("SELECT last_polled_at FROM org_feed_state WHERE org_id = :o"),
                    {"o": platform.org_id},
                )
            ).scalar()

    before = await last_polled()
    reader = asyncio.create_task(
        client.get("/v1/feed", params={"cursor": cursor, "wait": 10}, headers=platform.headers)
    )
    try:
        # The reader has looked once (and found nothing) when its poll is recorded.
        deadline = time.monotonic() + 5
        while await last_polled() == before:
            assert time.monotonic() < deadline, "the long-poll never read the feed"
            assert not reader.done(), reader.result().text
            await asyncio.sleep(0.01)
        assert not reader.done()
        start = time.monotonic()
        flag = await submit(client, agency)
        resp = await asyncio.wait_for(reader, timeout=10)
        elapsed = time.monotonic() - start
    finally:
        if not reader.done():
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
    assert resp.status_code == 200, resp.text
    assert created_ids(resp.json()["items"]) == [flag["id"]]
    assert elapsed < 3, f"long-poll took {elapsed:.2f}s to wake"


async def test_wait_bounds(client, cast):
    platform = cast["platform"]
    _, cursor = await drain(client, platform)
    start = time.monotonic()
    page = await read(client, platform, cursor, wait=0)
    assert page["items"] == [] and time.monotonic() - start < 2
    for bad in ("31", "-1", "soon"):
        resp = await client.get("/v1/feed", params={"wait": bad}, headers=platform.headers)
        problem = assert_problem(resp, 422)
        assert [e["field"] for e in problem["errors"]] == ["wait"], problem


async def test_empty_page_cursor_continues_and_never_goes_backwards(client, cast):
    agency, platform = cast["agency"], cast["platform"]
    empty = await read(client, platform)
    assert empty["items"] == [] and empty["next_cursor"]
    flags = [await submit(client, agency) for _ in range(3)]
    cursors = [empty["next_cursor"]]
    got: list[str] = []
    for _ in range(4):  # one item per page, then an empty page
        page = await read(client, platform, cursors[-1], limit=1)
        got += created_ids(page["items"])
        cursors.append(page["next_cursor"])
    assert got == [f["id"] for f in flags]
    positions = [position(c) for c in cursors]
    assert positions == sorted(positions)
    assert positions[-1] == positions[-2]  # the empty page kept its place
    later = await submit(client, agency)
    page = await read(client, platform, cursors[-1])
    assert created_ids(page["items"]) == [later["id"]]


GARBAGE_CURSORS = [
    "not a cursor",
    "!!!!",
    encode_cursor(["1", 2]),  # wrong arity
    encode_cursor(["x", 1, int(time.time())]),
    encode_cursor(["-1", 1, int(time.time())]),
    encode_cursor(["1", -1, int(time.time())]),
    encode_cursor([[1], 1, int(time.time())]),
    encode_cursor(["1", 1, "yesterday"]),
    encode_cursor({"txid": 1}),  # type: ignore[arg-type]
    "x" * 513,
]


async def test_garbage_cursor_is_422_on_cursor(client, cast):
    for cursor in GARBAGE_CURSORS:
        resp = await client.get(
            "/v1/feed", params={"cursor": cursor}, headers=cast["platform"].headers
        )
        problem = assert_problem(resp, 422)
        assert [e["field"] for e in problem["errors"]] == ["cursor"], (cursor, problem)


async def test_out_of_range_cursor_is_422(client, cast):
    for key in (["1" + "0" * 25, 1, int(time.time())], ["1", 2**70, int(time.time())]):
        resp = await client.get(
            "/v1/feed", params={"cursor": encode_cursor(key)}, headers=cast["platform"].headers
        )
        problem = assert_problem(resp, 422)
        assert [e["field"] for e in problem["errors"]] == ["cursor"], problem


async def test_cursor_older_than_retention_is_410(client, cast):
    stale = encode_cursor(["1", 1, int(time.time()) - 91 * 86400])
    resp = await client.get("/v1/feed", params={"cursor": stale}, headers=cast["platform"].headers)
    problem = assert_problem(resp, 410)
    assert "Resynchronise" in problem["detail"]


async def test_delivered_at_is_set_on_first_read_only(client, cast):
    agency, platform = cast["agency"], cast["platform"]
    flag = await submit(client, agency)
    assert flag["delivered_at"] is None
    # The agency reading its own feed delivers nothing.
    await drain(client, agency)
    got = (await client.get(f"/v1/flags/{flag['id']}", headers=agency.headers)).json()
    assert got["delivered_at"] is None
    assert "delivered" not in [e["type"] for e in got["events"]]

    items, _ = await drain(client, platform)
    assert items[0]["flag"]["delivered_at"] is not None
    got = (await client.get(f"/v1/flags/{flag['id']}", headers=agency.headers)).json()
    delivered_at = got["delivered_at"]
    assert delivered_at == items[0]["flag"]["delivered_at"]
    assert [e["type"] for e in got["events"]] == ["submitted", "delivered"]

    # Reading again from the start, and a later event about the same flag, change nothing.
    await drain(client, platform)
    await client.post(
        f"/v1/flags/{flag['id']}/withdraw", json={"reason": "x"}, headers=agency.headers
    )
    await drain(client, platform)
    got = (await client.get(f"/v1/flags/{flag['id']}", headers=agency.headers)).json()
    assert got["delivered_at"] == delivered_at
    assert [e["type"] for e in got["events"]].count("delivered") == 1


async def test_each_side_gets_its_own_event_types(client, cast):
    agency, other, platform = cast["agency"], cast["other_agency"], cast["platform"]
    mine = await submit(client, agency, handle="shared_target")
    theirs = await submit(client, other, handle="@Shared_Target")

    def post(path: str, who: Party, body: dict[str, Any] | None = None):
        return client.post(f"/v1/flags/{mine['id']}/{path}", json=body, headers=who.headers)

    assert (await post("ack", platform)).status_code == 200
    assert (await post("request-info", platform, {"question": "Which post?"})).status_code == 200
    assert (await post("info", agency, {"note": "The pinned one."})).status_code == 200
    resp = await post("outcome", platform, {"action": "account_suspended"})
    assert resp.status_code == 200
    resp = await client.post(
        f"/v1/flags/{theirs['id']}/withdraw", json={"reason": "dup"}, headers=other.headers
    )
    assert resp.status_code == 200

    platform_items, _ = await drain(client, platform)
    assert [(e["type"], e["flag"]["id"]) for e in platform_items] == [
        ("flag.created", mine["id"]),
        ("flag.created", theirs["id"]),
        ("flag.corroborated", mine["id"]),
        ("flag.info_provided", mine["id"]),
        ("flag.withdrawn", theirs["id"]),
    ]
    assert platform_items[3]["data"]["note"] == "The pinned one."

    agency_items, _ = await drain(client, agency)
    assert [(e["type"], e["flag"]["id"]) for e in agency_items] == [
        ("flag.acknowledged", mine["id"]),
        ("flag.info_requested", mine["id"]),
        ("flag.closed", mine["id"]),
    ]
    assert agency_items[1]["data"]["question"] == "Which post?"
    assert agency_items[2]["flag"]["outcome"]["action"] == "account_suspended"
    assert (await drain(client, other))[0] == []

    for item in platform_items + agency_items:
        assert set(item) >= {"event_id", "type", "occurred_at", "flag"}
        assert item["occurred_at"].endswith("Z")
    ids = [int(e["event_id"]) for e in platform_items]
    assert ids == sorted(ids)


@pytest.mark.parametrize("key", [["1", 1, "NaN"], ["1", 1.5, 0], ["1", 1, "inf"]])
async def test_cursor_with_odd_numbers_is_422(world, client, key):
    import base64 as _b64
    import json as _json

    from tests.conftest import assert_problem as _ap
    from tests.conftest import party as _party

    platform = await _party(world, "platform")
    cursor = _b64.urlsafe_b64encode(_json.dumps(key).encode()).decode().rstrip("=")
    resp = await client.get("/v1/feed", params={"cursor": cursor}, headers=platform.headers)
    problem = _ap(resp, 422)
    assert problem["errors"][0]["field"] == "cursor"
