"""Holds that can be governed: the active-holds limit, recorded renewals, the operators' view."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from app.holds.service import sweep_expired_holds
from tests.conftest import assert_problem, flag_body, party
from tests.holds.test_holds import hold_body

LIMIT = 3
RENEWALS = 2


@pytest.fixture
def settings(settings):
    """Small limits, so that reaching them takes a few requests."""
    return settings.model_copy(update={"max_active_holds": LIMIT, "max_hold_renewals": RENEWALS})


@pytest.fixture(autouse=True)
async def platform(world):
    """The platform every hold here is on."""
    return await party(world, "platform", platform="twitter")


@pytest.fixture
async def agency(world):
    """The holding agency."""
    return await party(world, "agency", country="AU")


def later(days: float) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).isoformat()


async def create(client, who, handle: str, days: float = 30):
    resp = await client.post(
        "/v1/holds", json=hold_body("twitter", handle, days), headers=who.headers
    )
    assert resp.status_code == 201, resp.text
    return resp.json()


async def renew(client, who, hold_id: str, days: float, **extra):
    return await client.post(
        f"/v1/holds/{hold_id}/renew",
        json={"expires_at": later(days), **extra},
        headers={**who.headers, **extra.pop("headers", {})},
    )


async def column(app, sql: str, **params) -> list:
    """The first column of a query's rows, on a connection of its own."""
    async with app.state.engine.connect() as conn:
        return list((await conn.execute(text(sql), params)).scalars())


async def active_count(app, agency) -> int:
    [count] = await column(
        app,
        "SELECT count(*) FROM hold WHERE agency_org_id = :g "
        "AND released_at IS NULL AND expires_at > now()",
        g=agency.org_id,
    )
    return int(count)


async def expire_now(app, hold_id: str) -> None:
    async with app.state.engine.begin() as conn:
        await conn.execute(
            text("UPDATE hold SET expires_at = now() - interval '1 second' WHERE id = :id"),
            {"id": hold_id},
        )


# --- the limit ---------------------------------------------------------------------------


async def test_a_hold_beyond_the_limit_is_409_saying_the_limit_and_how_many(
    app, world, client, agency
):
    holds = [await create(client, agency, f"lim{i}") for i in range(LIMIT)]
    resp = await client.post(
        "/v1/holds", json=hold_body("twitter", "one_more"), headers=agency.headers
    )
    problem = assert_problem(resp, 409)
    assert problem["type"] == "urn:flagbridge:problem:hold-limit"
    assert problem["limit"] == LIMIT and problem["active_holds"] == LIMIT
    assert f"{LIMIT} active holds" in problem["detail"] and "limit" in problem["detail"]
    assert await active_count(app, agency) == LIMIT

    # The limit is the agency's: another agency still places holds.
    other = await party(world, "agency", country="NZ")
    await create(client, other, "one_more")

    # A released hold and an expired one (not yet swept) no longer count.
    await client.delete(f"/v1/holds/{holds[0]['id']}", headers=agency.headers)
    await create(client, agency, "after_release")
    await expire_now(app, holds[1]["id"])
    await create(client, agency, "after_expiry")
    assert_problem(
        await client.post("/v1/holds", json=hold_body("twitter", "again"), headers=agency.headers),
        409,
    )


async def test_concurrent_creations_at_the_limit_do_not_both_pass(
    app, client, agency, database_url
):
    """Four creations counting at limit - 1 on their own connections: exactly one passes."""
    import asyncpg

    for i in range(LIMIT - 1):
        await create(client, agency, f"race{i}")
    # Holding the agency's row stops every creation at its insert (the foreign key check),
    # after it has counted, unless something serialises count and insert: without that,
    # all four would count LIMIT - 1 and all would pass once the row is let go.
    conn = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        tx = conn.transaction()
        await tx.start()
        await conn.execute("SELECT 1 FROM organization WHERE id = $1 FOR UPDATE", agency.org_id)
        racers = asyncio.gather(
            *(
                client.post(
                    "/v1/holds", json=hold_body("twitter", f"racer{i}"), headers=agency.headers
                )
                for i in range(4)
            )
        )
        deadline = asyncio.get_running_loop().time() + 10
        while (waiting := await lock_waiters(app)) < 4:
            assert asyncio.get_running_loop().time() < deadline, waiting
            await asyncio.sleep(0.02)
        await tx.commit()
        responses = await racers
    finally:
        await conn.close()
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201, 409, 409, 409], [r.text for r in responses]
    assert await active_count(app, agency) == LIMIT


async def lock_waiters(app) -> int:
    """Sessions of this database waiting for a lock (asked afresh: within one transaction
    pg_stat_activity would repeat its first snapshot)."""
    [count] = await column(
        app,
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
        "AND datname = current_database()",
    )
    return int(count)


# --- renewals ----------------------------------------------------------------------------


async def test_renewal_moves_the_expiry_and_is_recorded_and_audited(app, client, agency):
    hold = await create(client, agency, "renewed", days=10)
    resp = await renew(client, agency, hold["id"], 80, reason="Investigation extended by court")
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["id"] == hold["id"] and body["status"] == "active"
    assert datetime.fromisoformat(body["expires_at"]) > datetime.now(UTC) + timedelta(days=79)
    [renewal] = body["renewals"]
    assert renewal["previous_expires_at"] == hold["expires_at"]
    assert renewal["expires_at"] == body["expires_at"]
    assert renewal["reason"] == "Investigation extended by court"
    got = (await client.get(f"/v1/holds/{hold['id']}", headers=agency.headers)).json()
    assert got == body
    # A second renewal, without a reason, is listed after the first.
    second = (await renew(client, agency, hold["id"], 85)).json()
    assert [r["reason"] for r in second["renewals"]] == ["Investigation extended by court", None]

    entries = await column(
        app,
        "SELECT data FROM audit_entry WHERE action = 'hold.renewed' "
        "AND object_id = :id ORDER BY seq",
        id=hold["id"],
    )
    assert [e["renewal"] for e in entries] == [1, 2]
    assert entries[0]["previous_expires_at"] == hold["expires_at"]
    assert entries[0]["expires_at"] == body["expires_at"]
    assert "reason_sha256" in entries[0]
    assert "Investigation extended" not in json.dumps(entries)


async def test_a_renewed_hold_keeps_holding_and_the_sweep_reads_its_new_expiry(
    app, world, client, agency
):
    flagger = await party(world, "agency", country="ID")
    hold = await create(client, agency, "kept", days=1)
    flag = (
        await client.post(
            "/v1/flags", json=flag_body("twitter", handle="kept"), headers=flagger.headers
        )
    ).json()
    assert flag["status"] == "held"
    renewed = (await renew(client, agency, hold["id"], 60)).json()
    stored = await column(app, "SELECT expires_at FROM hold WHERE id = :id", id=hold["id"])
    assert stored == [datetime.fromisoformat(renewed["expires_at"])]
    assert await sweep_expired_holds(sessionmaker=app.state.sessionmaker) == 0
    status = (await client.get(f"/v1/flags/{flag['id']}", headers=flagger.headers)).json()["status"]
    assert status == "held"


@pytest.mark.parametrize(
    ("days", "message"),
    [(91, "at most 90 days ahead"), (5, "later than the hold's current expiry")],
)
async def test_renewal_too_far_or_not_later_is_422(client, agency, days, message):
    hold = await create(client, agency, "bounded", days=30)
    problem = assert_problem(await renew(client, agency, hold["id"], days), 422)
    assert problem["errors"] == [{"field": "expires_at", "message": f"must be {message}"}]
    got = (await client.get(f"/v1/holds/{hold['id']}", headers=agency.headers)).json()
    assert got["expires_at"] == hold["expires_at"] and got["renewals"] == []


async def test_renewals_beyond_the_cap_are_409(client, agency):
    hold = await create(client, agency, "capped", days=10)
    for i in range(RENEWALS):
        assert (await renew(client, agency, hold["id"], 20 + i)).status_code == 200
    problem = assert_problem(await renew(client, agency, hold["id"], 50), 409)
    assert problem["type"] == "urn:flagbridge:problem:renewal-limit"
    assert problem["limit"] == RENEWALS and problem["renewals"] == RENEWALS
    got = (await client.get(f"/v1/holds/{hold['id']}", headers=agency.headers)).json()
    assert len(got["renewals"]) == RENEWALS


async def test_renewing_someone_elses_or_no_hold_is_404(world, client, agency, platform):
    hold = await create(client, agency, "theirs")
    other = await party(world, "agency", country="NZ")
    assert_problem(await renew(client, other, hold["id"], 60), 404)
    assert_problem(await renew(client, agency, "00000000-0000-0000-0000-000000000000", 60), 404)
    assert_problem(await renew(client, platform, hold["id"], 60), 403)
    assert (await client.get(f"/v1/holds/{hold['id']}", headers=agency.headers)).json()[
        "renewals"
    ] == []


async def test_renewing_a_released_or_expired_hold_is_409(app, client, agency):
    released = await create(client, agency, "gone")
    await client.delete(f"/v1/holds/{released['id']}", headers=agency.headers)
    assert (
        "released" in assert_problem(await renew(client, agency, released["id"], 60), 409)["detail"]
    )
    expired = await create(client, agency, "lapsed")
    await expire_now(app, expired["id"])
    assert_problem(await renew(client, agency, expired["id"], 60), 409)


async def test_renewal_is_idempotent(app, client, agency):
    hold = await create(client, agency, "idem_renew", days=10)
    body = {"expires_at": later(40), "reason": "again"}
    headers = {**agency.headers, "Idempotency-Key": "renew-1"}
    first = await client.post(f"/v1/holds/{hold['id']}/renew", json=body, headers=headers)
    second = await client.post(f"/v1/holds/{hold['id']}/renew", json=body, headers=headers)
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    assert second.headers.get("idempotent-replayed") == "true"
    assert len(second.json()["renewals"]) == 1
    # The same key on another hold is another request: 422, nothing renewed.
    other = await create(client, agency, "idem_other", days=10)
    assert_problem(
        await client.post(f"/v1/holds/{other['id']}/renew", json=body, headers=headers), 422
    )
    got = (await client.get(f"/v1/holds/{other['id']}", headers=agency.headers)).json()
    assert got["renewals"] == []


# --- the operators' view -----------------------------------------------------------------


async def test_operators_see_counts_and_expiries_per_agency_never_reasons_or_accounts(
    app, world, client
):
    au = await party(world, "agency", country="AU", name="Agency A")
    nz = await party(world, "agency", country="NZ", name="Agency B")
    quiet = await party(world, "agency", country="SG", name="Agency C")
    a1 = await create(client, au, "secret_h_one", days=10)
    a2 = await create(client, au, "secret_h_two", days=50)
    await renew(client, au, a1["id"], 20, reason="secret renewal reason")
    await create(client, nz, "secret_h_three", days=5)
    gone = await create(client, quiet, "secret_h_four")
    await client.delete(f"/v1/holds/{gone['id']}", headers=quiet.headers)

    resp = await client.get("/v1/admin/holds", headers=await world.admin_headers())
    assert resp.status_code == 200, resp.text
    page = resp.json()
    assert page["max_active_holds"] == LIMIT and page["max_hold_renewals"] == RENEWALS
    rows = {r["name"]: r for r in page["items"]}
    assert set(rows) == {"Agency A", "Agency B"}  # released holds are not counted
    a = rows["Agency A"]
    assert a["agency_id"] == au.org_id and a["country"] == "AU"
    assert a["active_holds"] == 2 and a["renewals"] == 1
    renewed_expiry = (await client.get(f"/v1/holds/{a1['id']}", headers=au.headers)).json()[
        "expires_at"
    ]
    assert a["soonest_expiry"] == renewed_expiry and a["latest_expiry"] == a2["expires_at"]
    assert rows["Agency B"]["active_holds"] == 1 and rows["Agency B"]["renewals"] == 0

    text_of_page = resp.text
    for secret in ("secret_h_", "secret renewal reason", hold_body("t", "x")["reason"]):
        assert secret not in text_of_page
    account_ids = await column(app, "SELECT id::text FROM account")
    assert account_ids and not any(acct in text_of_page for acct in account_ids)
    assert not any(h in text_of_page for h in (a1["id"], a2["id"]))


async def test_operators_view_is_paginated_by_agency_name(world, client):
    for name in ("Page C", "Page A", "Page B"):
        who = await party(world, "agency", country="AU", name=name)
        await create(client, who, f"paged_{name[-1]}")
    admin = await world.admin_headers()
    names, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/v1/admin/holds", params=params, headers=admin)).json()
        assert len(page["items"]) <= 2
        names += [r["name"] for r in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert names == ["Page A", "Page B", "Page C"]
    bad = await client.get("/v1/admin/holds", params={"cursor": "bm9wZQ"}, headers=admin)
    assert assert_problem(bad, 422)["errors"][0]["field"] == "cursor"


@pytest.mark.parametrize("kind", ["agency", "platform", "observer"])
async def test_only_operators_see_the_holds_view(world, client, kind):
    who = await party(world, kind)
    assert_problem(await client.get("/v1/admin/holds", headers=who.headers), 403)
    assert_problem(await client.get("/v1/admin/holds"), 401)
    ok = await client.get("/v1/admin/holds", headers=await world.admin_headers())
    assert ok.status_code == 200 and ok.json()["items"] == []
