"""Every state change writes its audit entry in the same transaction."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from tests.conftest import flag_body, party


async def audit_actions(app, object_id: str) -> list[str]:
    async with app.state.engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT action FROM audit_entry WHERE object_id = :id ORDER BY seq"),
            {"id": object_id},
        )
        return [r[0] for r in rows]


async def test_a_flags_whole_life_is_audited_in_order(app, world, client):
    agency = await party(world, "agency", country="PH")
    platform = await party(world, "platform", platform="twitter")
    flag = (
        await client.post(
            "/v1/flags",
            json=flag_body("twitter"),
            headers={**agency.headers, "X-Request-ID": "r-1"},
        )
    ).json()
    await client.get("/v1/feed", headers=platform.headers)  # delivery
    await client.post(f"/v1/flags/{flag['id']}/ack", headers=platform.headers)
    await client.post(
        f"/v1/flags/{flag['id']}/request-info",
        json={"question": "Which posts?"},
        headers=platform.headers,
    )
    await client.post(
        f"/v1/flags/{flag['id']}/info", json={"note": "Posts 1-3"}, headers=agency.headers
    )
    await client.post(
        f"/v1/flags/{flag['id']}/outcome",
        json={"action": "account_suspended"},
        headers=platform.headers,
    )
    assert await audit_actions(app, flag["id"]) == [
        "flag.submitted",
        "flag.delivered",
        "flag.acknowledged",
        "flag.info_requested",
        "flag.info_provided",
        "flag.outcome_recorded",
    ]
    async with app.state.engine.connect() as conn:
        first = (
            await conn.execute(
                text(
                    "SELECT actor_org_id::text, request_id, data FROM audit_entry "
                    "WHERE object_id = :id ORDER BY seq LIMIT 1"
                ),
                {"id": flag["id"]},
            )
        ).one()
    assert first[0] == agency.org_id and first[1] == "r-1"
    # Free text is referenced by hash, never copied into the log.
    assert "summary" not in first[2] and len(first[2]["summary_sha256"]) == 64


async def test_withdrawal_and_holds_are_audited(app, world, client):
    agency = await party(world, "agency", country="TH")
    await party(world, "platform", platform="twitter")
    flag = (
        await client.post("/v1/flags", json=flag_body("twitter"), headers=agency.headers)
    ).json()
    await client.post(
        f"/v1/flags/{flag['id']}/withdraw", json={"reason": "dup"}, headers=agency.headers
    )
    assert await audit_actions(app, flag["id"]) == ["flag.submitted", "flag.withdrawn"]
    hold = (
        await client.post(
            "/v1/holds",
            json={
                "platform": "twitter",
                "account": {"handle": "h"},
                "reason": "investigation",
                "expires_at": (datetime.now(UTC) + timedelta(days=1)).isoformat(),
            },
            headers=agency.headers,
        )
    ).json()
    await client.delete(f"/v1/holds/{hold['id']}", headers=agency.headers)
    assert await audit_actions(app, hold["id"]) == ["hold.created", "hold.released"]


async def test_a_refused_change_writes_no_audit_entry(app, world, client):
    agency = await party(world, "agency", country="TH")
    await party(world, "platform", platform="twitter")
    flag = (
        await client.post("/v1/flags", json=flag_body("twitter"), headers=agency.headers)
    ).json()
    await client.post(
        f"/v1/flags/{flag['id']}/withdraw", json={"reason": "x"}, headers=agency.headers
    )
    resp = await client.post(
        f"/v1/flags/{flag['id']}/withdraw", json={"reason": "x"}, headers=agency.headers
    )
    assert resp.status_code == 409
    assert await audit_actions(app, flag["id"]) == ["flag.submitted", "flag.withdrawn"]
