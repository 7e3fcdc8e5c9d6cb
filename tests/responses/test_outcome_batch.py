"""POST /v1/outcomes/batch: each ack or outcome succeeds or fails on its own, in order."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from tests.conftest import assert_problem, flag_body, party


@pytest.fixture
async def cast(world):
    return {
        "agency": await party(world, "agency", country="ID"),
        "platform": await party(world, "platform", platform="twitter"),
        "other_platform": await party(world, "platform", platform="youtube"),
    }


async def new_flag(client, cast, platform: str = "twitter") -> dict[str, Any]:
    resp = await client.post("/v1/flags", json=flag_body(platform), headers=cast["agency"].headers)
    assert resp.status_code == 201, resp.text
    return dict(resp.json())


async def test_invalid_items_in_the_middle_fail_alone(app, client, cast):
    a, b, c = [await new_flag(client, cast) for _ in range(3)]
    withdrawn = await new_flag(client, cast)
    await client.post(
        f"/v1/flags/{withdrawn['id']}/withdraw",
        json={"reason": "x"},
        headers=cast["agency"].headers,
    )
    elsewhere = await new_flag(client, cast, platform="youtube")
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    items = [
        {"flag_id": a["id"], "type": "ack"},
        {"flag_id": "not-a-uuid", "type": "ack"},
        {"flag_id": b["id"], "type": "outcome", "action": "content_removed", "note": "gone"},
        {"flag_id": str(uuid.uuid4()), "type": "ack"},
        {"flag_id": c["id"], "type": "outcome"},
        {"flag_id": elsewhere["id"], "type": "outcome", "action": "account_suspended"},
        {"flag_id": c["id"], "type": "outcome", "action": "account_suspended"},
        {"flag_id": a["id"], "type": "delete"},
        {"flag_id": a["id"], "type": "ack", "status": "closed"},
        {"flag_id": b["id"], "type": "outcome", "action": "no_violation"},
        {"flag_id": a["id"], "type": "outcome", "action": "no_violation", "actioned_at": future},
        {"flag_id": withdrawn["id"], "type": "ack"},
        {"flag_id": a["id"], "type": "ack"},
    ]
    resp = await client.post(
        "/v1/outcomes/batch", json={"items": items}, headers=cast["platform"].headers
    )
    assert resp.status_code == 200, resp.text
    results = resp.json()["results"]
    assert [r["index"] for r in results] == list(range(len(items)))
    assert [r["status"] for r in results] == [
        200, 422, 200, 404, 422, 404, 200, 422, 422, 409, 422, 409, 200
    ]  # fmt: skip

    def fields(i: int) -> set[str]:
        return {e["field"] for e in results[i]["error"]["errors"]}

    assert fields(1) == {"flag_id"}
    assert fields(4) == {"action"}
    assert fields(7) == {"type"}
    assert fields(8) == {"status"}
    assert fields(10) == {"actioned_at"}
    assert results[9]["error"]["current_status"] == "closed"
    assert results[11]["error"]["current_status"] == "withdrawn"
    for r in results:
        if r["status"] == 200:
            assert r["flag"]["id"] and r.get("error") is None
        else:
            assert r["error"]["status"] == r["status"] and r.get("flag") is None
    assert results[0]["flag"]["status"] == "acknowledged"
    assert results[2]["flag"]["outcome"]["action"] == "content_removed"
    assert results[6]["flag"]["status"] == "closed"
    assert results[12]["flag"]["acknowledged_at"] == results[0]["flag"]["acknowledged_at"]

    agency = cast["agency"].headers

    async def state(flag: dict[str, Any]) -> dict[str, Any]:
        return dict((await client.get(f"/v1/flags/{flag['id']}", headers=agency)).json())

    assert (await state(a))["status"] == "acknowledged"
    assert (await state(b))["outcome"]["action"] == "content_removed"
    assert (await state(c))["outcome"]["action"] == "account_suspended"
    assert (await state(elsewhere))["status"] == "open"
    assert (await state(withdrawn))["status"] == "withdrawn"
    # Exactly the three successful changes reached the agency's feed and the audit log.
    async with app.state.engine.connect() as conn:
        feed = (
            await conn.execute(
                text("SELECT type FROM feed_event WHERE recipient_org_id = :o ORDER BY id"),
                {"o": cast["agency"].org_id},
            )
        ).all()
        audit = (
            await conn.execute(
                text(
                    "SELECT action FROM audit_entry WHERE actor_org_id = :o "
                    "AND action <> 'flag.delivered' ORDER BY seq"
                ),
                {"o": cast["platform"].org_id},
            )
        ).all()
    assert [r[0] for r in feed] == ["flag.acknowledged", "flag.closed", "flag.closed"]
    assert [r[0] for r in audit] == [
        "flag.acknowledged",
        "flag.outcome_recorded",
        "flag.outcome_recorded",
    ]


async def test_batch_size_limits(client, cast):
    hdrs = cast["platform"].headers
    ack = {"flag_id": str(uuid.uuid4()), "type": "ack"}
    problem = assert_problem(
        await client.post("/v1/outcomes/batch", json={"items": [ack] * 1001}, headers=hdrs), 422
    )
    assert [e["field"] for e in problem["errors"]] == ["items"]
    problem = assert_problem(
        await client.post("/v1/outcomes/batch", json={"items": []}, headers=hdrs), 422
    )
    assert [e["field"] for e in problem["errors"]] == ["items"]
    # An item that is not even an object refuses the request, naming its index.
    problem = assert_problem(
        await client.post("/v1/outcomes/batch", json={"items": [ack, "ack"]}, headers=hdrs), 422
    )
    assert [e["field"] for e in problem["errors"]] == ["items.1"]
    resp = await client.post("/v1/outcomes/batch", json={"items": [ack] * 1000}, headers=hdrs)
    assert resp.status_code == 200, resp.text
    assert [r["status"] for r in resp.json()["results"]] == [404] * 1000
