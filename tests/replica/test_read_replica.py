"""FLAGBRIDGE_READ_DATABASE_URL against a real hot standby: statistics, the transparency
page and the audit listing read the replica, writes stay on the primary, the replica's lag
is exported, and an unreachable replica sends reads back to the primary."""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import generate_latest

from app.embedded import sqlalchemy_url
from app.main import create_app
from app.observability import metrics_registry
from tests.conftest import Party, World, flag_body, party
from tests.replica.conftest import Standby, fetchval

# One worker runs the folder's tests against the one standby (make test's --dist loadgroup).
pytestmark = pytest.mark.xdist_group("replica")

LAG = re.compile(r"^flagbridge_read_replica_lag_seconds (\S+)$", re.MULTILINE)


async def eventually(check: Callable[[], Awaitable[bool]], what: str) -> None:
    """Poll check until it holds; fail with `what` after about 30 seconds."""
    for _ in range(600):
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"gave up waiting for {what}")


async def caught_up(standby: Standby, column: str) -> Callable[[], Awaitable[bool]]:
    """A check: has the standby received (or replayed) all WAL the primary has written so far?"""
    lsn = await fetchval(standby.primary_dsn(), "SELECT pg_current_wal_insert_lsn()::text")

    async def check() -> bool:
        return bool(await fetchval(standby.dsn(), f"SELECT {column}() >= '{lsn}'::pg_lsn"))

    return check


async def lag_metric(client: httpx.AsyncClient) -> float | None:
    """flagbridge_read_replica_lag_seconds as the private metrics listener shows it."""
    assert (await client.get("/metrics")).status_code == 404  # never on the API's port
    found = LAG.search(generate_latest(metrics_registry()).decode())
    return float(found.group(1)) if found else None


async def flags_sent(client: httpx.AsyncClient, observer: Party, agency: Party) -> int:
    """The agency's flags_sent in GET /v1/stats/agencies."""
    resp = await client.get("/v1/stats/agencies", headers=observer.headers)
    assert resp.status_code == 200, resp.text
    mine = [i for i in resp.json()["items"] if i["agency"]["id"] == agency.org_id]
    return int(mine[0]["flags_sent"])


async def submit(client: httpx.AsyncClient, agency: Party, platform: dict[str, Any]) -> str:
    """Submit a flag (on the primary) and return its id."""
    resp = await client.post(
        "/v1/flags", json=flag_body(platform["platform"]), headers=agency.headers
    )
    assert resp.status_code == 201, resp.text
    return str(resp.json()["id"])


async def audit_actions(client: httpx.AsyncClient, auditor: Party, flag_id: str) -> list[str]:
    """The audit listing's entries about one flag."""
    resp = await client.get("/v1/audit", params={"object_id": flag_id}, headers=auditor.headers)
    assert resp.status_code == 200, resp.text
    return [e["action"] for e in resp.json()["items"]]


async def connections(dsn: str, database: str, application: str) -> int:
    """How many connections the named application has open to the database."""
    return int(
        await fetchval(  # type: ignore[arg-type]
            dsn,
            "SELECT count(*) FROM pg_stat_activity "
            f"WHERE datname = '{database}' AND application_name = '{application}'",
        )
    )


async def test_reads_follow_the_replica_and_writes_stay_on_the_primary(
    client: httpx.AsyncClient, world: World, standby: Standby
) -> None:
    agency = await party(world, "agency")
    platform = await world.org("platform")
    observer = await party(world, "observer", scopes=["stats:read"])
    auditor = await party(world, "observer", scopes=["audit:read"])
    await submit(client, agency, platform)
    await eventually(await caught_up(standby, "pg_last_wal_replay_lsn"), "the first flag")
    assert await flags_sent(client, observer, agency) == 1
    await eventually(lambda: _lag_is(client, 0.0), "the lag metric at zero")

    await fetchval(standby.dsn(), "SELECT pg_wal_replay_pause()")
    try:
        second = await submit(client, agency, platform)
        await eventually(await caught_up(standby, "pg_last_wal_receive_lsn"), "the WAL to arrive")
        # The primary has both flags; the paused replica still answers with one.
        on_primary = await fetchval(
            standby.primary_dsn(),
            f"SELECT count(*) FROM flag WHERE agency_org_id = '{agency.org_id}'",
        )
        assert on_primary == 2
        assert await flags_sent(client, observer, agency) == 1
        assert await audit_actions(client, auditor, second) == []
        await eventually(lambda: _lag_above_zero(client), "a lag above zero while paused")
    finally:
        await fetchval(standby.dsn(), "SELECT pg_wal_replay_resume()")

    await eventually(await caught_up(standby, "pg_last_wal_replay_lsn"), "the replay")
    assert await flags_sent(client, observer, agency) == 2
    assert "flag.submitted" in await audit_actions(client, auditor, second)
    await eventually(lambda: _lag_is(client, 0.0), "the lag metric back at zero")
    # Only the read engine ever connects to the replica (a standby refuses writes anyway),
    # and it never reads from the primary while the replica answers.
    assert await connections(standby.dsn(), standby.database, "flagbridge") == 0
    assert await connections(standby.dsn(), standby.database, "flagbridge-read") >= 1
    assert await connections(standby.primary_dsn(), standby.database, "flagbridge-read") == 0


async def test_the_transparency_page_reads_the_replica(
    client: httpx.AsyncClient, standby: Standby
) -> None:
    # The standby counts scans of its own tables: only the app's reads run there.
    scans = (
        "SELECT coalesce(sum(coalesce(seq_scan, 0) + coalesce(idx_scan, 0)), 0) "
        "FROM pg_stat_user_tables WHERE relname = 'transparency_report'"
    )
    before = await fetchval(standby.dsn(), scans)
    resp = await client.get("/transparency.json")
    assert resp.status_code == 200, resp.text

    async def scanned() -> bool:
        return await fetchval(standby.dsn(), scans) > before  # type: ignore[operator]

    await eventually(scanned, "the replica's published reports to be read")


async def test_an_unreachable_replica_sends_reads_to_the_primary(
    settings: Any, database_url: str, response_checker: Any, tmp_path: Path
) -> None:
    # A socket folder with no server in it: connecting fails at once.
    nowhere = sqlalchemy_url(str(tmp_path), "flagbridge")
    app = create_app(settings.model_copy(update={"read_database_url": nowhere}),
                     database_url=database_url)  # fmt: skip
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    hooks = {"response": [response_checker.check_response]}
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://t", event_hooks=hooks) as client,
    ):
        world = World(app, client)
        agency = await party(world, "agency")
        platform = await world.org("platform")
        observer = await party(world, "observer", scopes=["stats:read"])
        auditor = await party(world, "observer", scopes=["audit:read"])
        flag_id = await submit(client, agency, platform)
        # Read from the primary at once: no replica lag to wait for.
        assert await flags_sent(client, observer, agency) == 1
        assert "flag.submitted" in await audit_actions(client, auditor, flag_id)
        assert (await client.get("/transparency.json")).status_code == 200
        await eventually(lambda: _lag_is(client, math.inf), "an infinite lag")


async def _lag_is(client: httpx.AsyncClient, value: float) -> bool:
    return await lag_metric(client) == value


async def _lag_above_zero(client: httpx.AsyncClient) -> bool:
    lag = await lag_metric(client)
    return lag is not None and 0 < lag < math.inf
