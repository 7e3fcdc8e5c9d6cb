"""Operators set deadline policies per issuing country; new flags follow them."""

from __future__ import annotations

from datetime import datetime

import pytest

from tests.conftest import assert_problem, flag_body, party


def hours_to_due(flag: dict) -> float:
    due = datetime.fromisoformat(flag["due_at"])
    return (due - datetime.fromisoformat(flag["submitted_at"])).total_seconds() / 3600


async def test_country_override_applies_to_that_country_only(world, client):
    admin = await world.admin_headers()
    await party(world, "platform", platform="twitter")
    au = await party(world, "agency", country="AU")
    nz = await party(world, "agency", country="NZ")
    resp = await client.put(
        "/v1/admin/deadline-policies/au/referral/standard", json={"seconds": 7200}, headers=admin
    )
    assert resp.status_code == 200, resp.text
    assert resp.json() == {
        "country": "AU",
        "kind": "referral",
        "priority": "standard",
        "seconds": 7200,
    }
    au_flag = (await client.post("/v1/flags", json=flag_body("twitter"), headers=au.headers)).json()
    nz_flag = (await client.post("/v1/flags", json=flag_body("twitter"), headers=nz.headers)).json()
    assert hours_to_due(au_flag) == 2
    assert hours_to_due(nz_flag) == 24
    listed = (await client.get("/v1/admin/deadline-policies", headers=admin)).json()["items"]
    assert {"country": "AU", "kind": "referral", "priority": "standard", "seconds": 7200} in listed
    assert len([p for p in listed if p["country"] == "*"]) == 4

    resp = await client.delete("/v1/admin/deadline-policies/AU/referral/standard", headers=admin)
    assert resp.status_code == 204
    again = (await client.post("/v1/flags", json=flag_body("twitter"), headers=au.headers)).json()
    assert hours_to_due(again) == 24
    assert_problem(
        await client.delete("/v1/admin/deadline-policies/AU/referral/standard", headers=admin), 404
    )


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/v1/admin/deadline-policies/XX/referral/standard", {"seconds": 3600}, 422),
        ("/v1/admin/deadline-policies/ID/order/standard", {"seconds": 3600}, 422),
        ("/v1/admin/deadline-policies/ID/referral/standard", {"seconds": 10}, 422),
        ("/v1/admin/deadline-policies/ID/referral/standard", {"hours": 1}, 422),
    ],
)
async def test_invalid_policies_are_422(world, client, path, body, status):
    assert_problem(await client.put(path, json=body, headers=await world.admin_headers()), status)


async def test_only_operators_manage_policies(world, client):
    for kind in ("agency", "platform", "observer"):
        p = await party(world, kind)
        assert_problem(await client.get("/v1/admin/deadline-policies", headers=p.headers), 403)
        resp = await client.put(
            "/v1/admin/deadline-policies/ID/referral/urgent",
            json={"seconds": 60},
            headers=p.headers,
        )
        assert_problem(resp, 403)
    assert_problem(await client.get("/v1/admin/deadline-policies"), 401)
