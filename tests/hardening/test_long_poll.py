"""Long-poll waiters: the poll is recorded once per request, and waiters per client are capped."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from sqlalchemy import text

from tests.conftest import World, assert_problem, party

_COUNT_POLL_WRITES = (
    "CREATE TABLE test_poll_write (at timestamptz NOT NULL DEFAULT clock_timestamp())",
    """CREATE FUNCTION test_count_poll_write() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO test_poll_write DEFAULT VALUES;
        RETURN NULL;
    END $$""",
    """CREATE TRIGGER test_count_poll_write AFTER INSERT OR UPDATE ON org_feed_state
    FOR EACH ROW EXECUTE FUNCTION test_count_poll_write()""",
)


async def _poll_writes(app: Any) -> int:
    """Rows written to org_feed_state since counting started (a trigger counts them)."""
    async with app.state.engine.connect() as conn:
        return int((await conn.execute(text("SELECT count(*) FROM test_poll_write"))).scalar())


async def test_a_waiting_long_poll_records_its_poll_once(
    app: Any, client: httpx.AsyncClient
) -> None:
    platform = await party(World(app, client), "platform")
    async with app.state.engine.begin() as conn:
        for statement in _COUNT_POLL_WRITES:
            await conn.execute(text(statement))
    # About three re-checks (one a second) while nothing arrives.
    resp = await client.get("/v1/feed", params={"wait": 3}, headers=platform.headers)
    assert resp.status_code == 200, resp.text
    assert resp.json()["items"] == []
    assert await _poll_writes(app) == 1
    async with app.state.engine.connect() as conn:
        polled = (
            await conn.execute(
                text("SELECT count(*) FROM org_feed_state WHERE org_id = :o"),
                {"o": platform.org_id},
            )
        ).scalar()
    assert polled == 1


async def test_one_waiter_over_the_per_client_cap_gets_429_with_retry_after(
    app: Any, client: httpx.AsyncClient
) -> None:
    world = World(app, client)
    platform = await party(world, "platform")
    other = await party(world, "platform")
    cap = app.state.settings.feed_max_waiters_per_client
    waiting = [
        asyncio.create_task(client.get("/v1/feed", params={"wait": 5}, headers=platform.headers))
        for _ in range(cap)
    ]
    deadline = asyncio.get_running_loop().time() + 5
    while app.state.feed_waiters._per_client.get(platform.creds.client_id, 0) < cap:
        assert asyncio.get_running_loop().time() < deadline, "waiters never arrived"
        await asyncio.sleep(0.01)

    over = await client.get("/v1/feed", params={"wait": 5}, headers=platform.headers)
    problem = assert_problem(over, 429)
    assert over.headers["retry-after"].isdigit(), over.headers
    assert str(cap) in problem["detail"]
    # A read that does not wait, and another client's long-poll, are not affected.
    assert (await client.get("/v1/feed", headers=platform.headers)).status_code == 200
    assert (
        await client.get("/v1/feed", params={"wait": 0.1}, headers=other.headers)
    ).status_code == 200

    app.state.feed_notifier.poke([platform.org_id])
    for task in waiting:
        assert (await task).status_code == 200
    assert platform.creds.client_id not in app.state.feed_waiters._per_client
