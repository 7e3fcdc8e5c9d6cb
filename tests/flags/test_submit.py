"""Submitting flags: validation, identity from the token, duplicates, corroboration."""

from __future__ import annotations

import uuid

import pytest

from tests.conftest import assert_problem, flag_body, party


@pytest.fixture
async def twitter(world):
    return await party(world, "platform", platform="twitter")


@pytest.fixture
async def agency(world):
    return await party(world, "agency", country="ID")


async def test_submission_returns_201_with_identity_from_the_token(client, agency, twitter):
    body = flag_body("twitter", handle="@Recruiter_01", kind="removal_order", priority="urgent")
    resp = await client.post("/v1/flags", json=body, headers=agency.headers)
    assert resp.status_code == 201, resp.text
    flag = resp.json()
    uuid.UUID(flag["id"])
    assert resp.headers["location"] == f"/v1/flags/{flag['id']}"
    assert flag["status"] == "open"
    assert flag["country"] == "ID"
    assert flag["agency"]["id"] == agency.org_id
    assert flag["account"] == {"id": None, "handle": "recruiter_01", "url": None}
    assert flag["kind"] == "removal_order" and flag["priority"] == "urgent"
    assert flag["submitted_at"].endswith("Z") and flag["due_at"].endswith("Z")
    assert flag["corroborations"] == {"agencies": 1, "countries": 1}
    assert flag["delivered_at"] is None


@pytest.mark.parametrize(
    ("kind", "priority", "hours"),
    [("removal_order", "standard", 1), ("referral", "urgent", 4), ("referral", "standard", 24)],
)
async def test_due_at_follows_the_default_deadline_policy(
    client, agency, twitter, kind, priority, hours
):
    from datetime import datetime

    body = flag_body("twitter", kind=kind, priority=priority)
    flag = (await client.post("/v1/flags", json=body, headers=agency.headers)).json()
    submitted = datetime.fromisoformat(flag["submitted_at"])
    due = datetime.fromisoformat(flag["due_at"])
    assert (due - submitted).total_seconds() == hours * 3600


@pytest.mark.parametrize(
    "field", ["country", "status", "agency", "submitted_at", "due_at", "id", "delivered_at"]
)
async def test_body_cannot_set_server_fields(client, agency, twitter, field):
    body = flag_body("twitter", **{field: "XX"})
    problem = assert_problem(await client.post("/v1/flags", json=body, headers=agency.headers), 422)
    assert field in {e["field"] for e in problem["errors"]}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"evidence": [{"url": f"https://e.example/{i}"} for i in range(51)]}, "evidence"),
        ({"evidence": []}, "evidence"),
        ({"summary": "x" * 4001}, "summary"),
        ({"summary": ""}, "summary"),
        ({"category": "spam"}, "category"),
        ({"kind": "order"}, "kind"),
        ({"priority": "high"}, "priority"),
        ({"account": {}}, "account"),
        ({"account": {"handle": "has space"}}, "account.handle"),
        ({"account": {"url": "ftp://x.example/a"}}, "account.url"),
        ({"account": {"handle": "a", "email": "x"}}, "account.email"),
        ({"evidence": [{"url": "https://e.example/1", "sha256": "nothex"}]}, "evidence.0.sha256"),
        (
            {"evidence": [{"url": "https://e.example/1", "captured_at": "2018-11-06T09:46:00"}]},
            "evidence.0.captured_at",
        ),
        ({"platform": "Twitter!"}, "platform"),
    ],
)
async def test_invalid_submissions_are_422_naming_the_field(client, agency, twitter, change, field):
    body = {**flag_body("twitter"), **change}
    problem = assert_problem(await client.post("/v1/flags", json=body, headers=agency.headers), 422)
    assert field in {e["field"] for e in problem["errors"]}, problem


async def test_unknown_platform_is_422_on_platform(client, agency):
    body = flag_body("myspace")
    problem = assert_problem(await client.post("/v1/flags", json=body, headers=agency.headers), 422)
    assert problem["errors"][0]["field"] == "platform"


async def test_same_agency_duplicate_returns_409_with_existing_id(client, agency, twitter):
    first = await client.post(
        "/v1/flags", json=flag_body("twitter", handle="dup"), headers=agency.headers
    )
    # Same account in another spelling: handles are normalised.
    again = await client.post(
        "/v1/flags", json=flag_body("twitter", handle="@DUP"), headers=agency.headers
    )
    problem = assert_problem(again, 409)
    assert problem["existing_flag_id"] == first.json()["id"]


async def test_other_agency_on_same_account_is_corroboration(world, client, agency, twitter):
    other = await party(world, "agency", country="MY")
    third = await party(world, "agency", country="MY")
    a = await client.post(
        "/v1/flags", json=flag_body("twitter", handle="shared"), headers=agency.headers
    )
    b = await client.post(
        "/v1/flags", json=flag_body("twitter", handle="SHARED"), headers=other.headers
    )
    assert b.status_code == 201
    assert b.json()["corroborations"] == {"agencies": 2, "countries": 2}
    c = await client.post(
        "/v1/flags", json=flag_body("twitter", handle="shared"), headers=third.headers
    )
    assert c.json()["corroborations"] == {"agencies": 3, "countries": 2}
    first = await client.get(f"/v1/flags/{a.json()['id']}", headers=agency.headers)
    assert first.json()["corroborations"] == {"agencies": 3, "countries": 2}


async def test_account_is_matched_by_stable_id_before_handle(client, agency, twitter, world):
    other = await party(world, "agency", country="SG")
    await client.post(
        "/v1/flags",
        json=flag_body("twitter", account={"id": "123456", "handle": "oldname"}),
        headers=agency.headers,
    )
    # The account renamed itself; the platform id still identifies it.
    resp = await client.post(
        "/v1/flags",
        json=flag_body("twitter", account={"id": "123456", "handle": "newname"}),
        headers=other.headers,
    )
    assert resp.json()["corroborations"]["agencies"] == 2


async def test_withdrawn_flag_frees_the_account_for_a_new_flag(client, agency, twitter):
    first = (
        await client.post(
            "/v1/flags", json=flag_body("twitter", handle="again"), headers=agency.headers
        )
    ).json()
    resp = await client.post(
        f"/v1/flags/{first['id']}/withdraw",
        json={"reason": "filed in error"},
        headers=agency.headers,
    )
    assert resp.status_code == 200 and resp.json()["status"] == "withdrawn"
    second = await client.post(
        "/v1/flags", json=flag_body("twitter", handle="again"), headers=agency.headers
    )
    assert second.status_code == 201


async def test_only_agencies_can_submit(world, client, twitter):
    for kind in ("platform", "observer", "operator"):
        p = await party(world, kind)
        resp = await client.post("/v1/flags", json=flag_body("twitter"), headers=p.headers)
        assert_problem(resp, 403)
    assert_problem(await client.post("/v1/flags", json=flag_body("twitter")), 401)


async def test_concurrent_submissions_on_one_new_account_never_fail(app, world, client, twitter):
    """Races to create the same account or the same live flag end in 201s and 409s only."""
    import asyncio

    from sqlalchemy import text

    agencies = [await party(world, "agency", country=cc) for cc in ("ID", "MY", "SG", "TH")]
    for round_ in range(5):
        handle = f"race_{round_}"
        bodies = [(a, flag_body("twitter", handle=handle)) for a in agencies for _ in range(2)]
        results = await asyncio.gather(
            *(client.post("/v1/flags", json=b, headers=a.headers) for a, b in bodies)
        )
        statuses = sorted(r.status_code for r in results)
        # Each agency gets exactly one flag; its second attempt is the duplicate 409.
        assert statuses == [201] * 4 + [409] * 4, [r.text for r in results]
    async with app.state.engine.connect() as conn:
        accounts = (
            await conn.execute(
                text(
                    "SELECT count(DISTINCT account_id) FROM account_key "
                    "WHERE key LIKE 'handle:race_%'"
                )
            )
        ).scalar()
    assert accounts == 5
