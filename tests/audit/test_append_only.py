"""The audit log is append-only in the database, and readable (filtered) by auditors."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import assert_problem, flag_body, party

# Statements that would rewrite history, per append-only table. test_service_role.py runs
# them as the service's role (denied by privileges) and as the owner role (by the triggers).
REWRITES = {
    "audit_entry": [
        "UPDATE audit_entry SET action = 'forged'",
        "DELETE FROM audit_entry WHERE seq = (SELECT min(seq) FROM audit_entry)",
        "TRUNCATE audit_entry",
    ],
    "audit_seal": [
        "UPDATE audit_seal SET chain_hash = entry_hash",
        "DELETE FROM audit_seal WHERE position = (SELECT max(position) FROM audit_seal)",
        "TRUNCATE audit_seal",
    ],
    "audit_checkpoint": [
        "UPDATE audit_checkpoint SET kid = 'forged'",
        "DELETE FROM audit_checkpoint",
        "TRUNCATE audit_checkpoint",
    ],
}


async def row_counts(engine: AsyncEngine) -> dict[str, int]:
    """Rows in each append-only table."""
    async with engine.connect() as conn:
        return {
            table: int((await conn.execute(text(f"SELECT count(*) FROM {table}"))).scalar())
            for table in REWRITES
        }


async def assert_refused(engine: AsyncEngine, statement: str, *, match: str) -> None:
    """The statement fails with insufficient_privilege and `match`; no row count changes."""
    before = await row_counts(engine)
    with pytest.raises(DBAPIError, match=match) as refused:
        async with engine.begin() as conn:
            await conn.execute(text(statement))
    assert getattr(refused.value.orig, "sqlstate", None) == "42501"
    assert await row_counts(engine) == before


@pytest.mark.parametrize("statement", REWRITES["audit_entry"])
async def test_update_delete_truncate_are_refused(app, world, statement):
    await world.admin_headers()  # writes audit entries (org and client created)
    assert (await row_counts(app.state.engine))["audit_entry"] > 0
    await assert_refused(app.state.engine, statement, match="append-only")


async def test_auditors_read_and_filter_the_log(app, world, client):
    agency = await party(world, "agency", country="NZ")
    await party(world, "platform", platform="twitter")
    observer = await party(world, "observer")
    flag = (
        await client.post("/v1/flags", json=flag_body("twitter"), headers=agency.headers)
    ).json()
    await client.post(
        f"/v1/flags/{flag['id']}/withdraw", json={"reason": "x"}, headers=agency.headers
    )

    by_object = await client.get(
        "/v1/audit", params={"object_id": flag["id"]}, headers=observer.headers
    )
    assert by_object.status_code == 200, by_object.text
    items = by_object.json()["items"]
    assert [i["action"] for i in items] == ["flag.submitted", "flag.withdrawn"]
    assert items[0]["actor"]["organization_id"] == agency.org_id
    assert items[0]["seq"] < items[1]["seq"]

    by_actor = await client.get(
        "/v1/audit", params={"organization": agency.org_id}, headers=observer.headers
    )
    assert {i["object_id"] for i in by_actor.json()["items"]} == {flag["id"]}
    by_action = await client.get(
        "/v1/audit", params={"action": "flag.withdrawn"}, headers=observer.headers
    )
    assert [i["object_id"] for i in by_action.json()["items"]] == [flag["id"]]
    future = await client.get(
        "/v1/audit", params={"from": "2999-01-01T00:00:00Z"}, headers=observer.headers
    )
    assert future.json()["items"] == []

    # Pagination walks the whole log once, in order.
    seen, cursor = [], None
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/v1/audit", params=params, headers=observer.headers)).json()
        seen += [i["seq"] for i in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert (
        seen == sorted(set(seen))
        and len(seen) == (await row_counts(app.state.engine))["audit_entry"]
    )


async def test_only_auditors_read_the_log(world, client):
    assert_problem(await client.get("/v1/audit"), 401)
    for kind in ("agency", "platform", "operator"):
        p = await party(world, kind)
        assert_problem(await client.get("/v1/audit", headers=p.headers), 403)
    observer = await party(world, "observer")
    for params in ({"limit": 0}, {"cursor": "WyJ4Il0"}, {"from": "yesterday"}, {"action": "DROP"}):
        assert_problem(await client.get("/v1/audit", params=params, headers=observer.headers), 422)
