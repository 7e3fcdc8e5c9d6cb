"""A feed page hands a platform's new flags over as a set: each flag once, with its history
event and its audit entry, and each item shaped as the contract says."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from tests.conftest import Party, flag_body, party


async def submit(client, agency: Party) -> str:
    resp = await client.post("/v1/flags", json=flag_body("twitter"), headers=agency.headers)
    assert resp.status_code == 201, resp.text
    return str(resp.json()["id"])


async def page(client, who: Party, cursor: str | None, limit: int, rid: str) -> dict[str, Any]:
    params: dict[str, Any] = {"limit": limit}
    if cursor:
        params["cursor"] = cursor
    resp = await client.get("/v1/feed", params=params, headers={**who.headers, "X-Request-ID": rid})
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == "application/json"
    return dict(resp.json())


async def test_pages_hand_each_flag_over_once_with_history_and_audit(app, world, client):
    agency = await party(world, "agency", country="ID")
    platform = await party(world, "platform", platform="twitter")
    flags = [await submit(client, agency) for _ in range(5)]
    await client.post(
        f"/v1/flags/{flags[4]}/withdraw", json={"reason": "r"}, headers=agency.headers
    )
    first = await page(client, platform, None, 3, "page-1")
    second = await page(client, platform, first["next_cursor"], 10, "page-2")
    again = await page(client, platform, None, 10, "page-3")

    items = first["items"] + second["items"]
    assert [i["flag"]["id"] for i in items if i["type"] == "flag.created"] == flags
    assert again["items"] == items  # a re-read shows the same items, delivered already
    for item in items:
        assert item["flag"]["delivered_at"] is not None
        assert "hold" not in item and "data" not in item
    async with app.state.engine.connect() as conn:
        audit = (
            await conn.execute(
                text(
                    "SELECT object_id, actor_org_id::text, request_id, data FROM audit_entry "
                    "WHERE action = 'flag.delivered' AND object_id = ANY(:ids) ORDER BY seq"
                ),
                {"ids": flags},
            )
        ).all()
        history = (
            await conn.execute(
                text(
                    "SELECT flag_id::text, actor_org_id::text FROM flag_event "
                    "WHERE type = 'delivered' AND flag_id::text = ANY(:ids)"
                ),
                {"ids": flags},
            )
        ).all()
    assert sorted(r[0] for r in audit) == sorted(flags)
    assert {r[1] for r in audit} == {platform.org_id}
    assert {r[3]["via"] for r in audit} == {"feed"}
    # The first page held three events (three flags), the second the other two (and the
    # withdrawal, which hands nothing over again).
    by_flag = {r[0]: r[2] for r in audit}
    pages = [by_flag[i["flag"]["id"]] for i in items if i["type"] == "flag.created"]
    assert pages == ["page-1"] * 3 + ["page-2"] * 2
    assert sorted(r[0] for r in history) == sorted(flags)
    assert {r[1] for r in history} == {platform.org_id}


async def test_an_event_with_data_carries_it_and_one_without_leaves_it_out(world, client):
    agency = await party(world, "agency", country="ID")
    platform = await party(world, "platform", platform="twitter")
    flag = await submit(client, agency)
    await client.post(
        f"/v1/flags/{flag}/request-info", json={"question": "which?"}, headers=platform.headers
    )
    await client.post(f"/v1/flags/{flag}/info", json={"note": "these"}, headers=agency.headers)
    platform_items = (await page(client, platform, None, 10, "p"))["items"]
    agency_items = (await page(client, agency, None, 10, "a"))["items"]
    assert [(i["type"], i.get("data")) for i in platform_items] == [
        ("flag.created", None),
        ("flag.info_provided", {"note": "these"}),
    ]
    assert [(i["type"], i.get("data")) for i in agency_items] == [
        ("flag.info_requested", {"question": "which?"}),
    ]
    # Every item shows the flag as it is now, not as it was at the event.
    assert {i["flag"]["status"] for i in platform_items + agency_items} == {"acknowledged"}
    assert all(i["flag"]["id"] == flag for i in platform_items + agency_items)
