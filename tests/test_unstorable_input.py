"""Input PostgreSQL cannot store is a 422 naming the field, never a 500."""

from __future__ import annotations

import base64
import json

import pytest

from tests.conftest import assert_problem, flag_body, party


@pytest.fixture
async def cast(world):
    return {
        "agency": await party(world, "agency"),
        "platform": await party(world, "platform", platform="twitter"),
    }


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"summary": "a\u0000b"}, "summary"),
        ({"legal_basis": "\u0000"}, "legal_basis"),
        ({"account": {"id": "12\u00003"}}, "account.id"),
        (
            {"evidence": [{"url": "https://e.example/1", "description": "x\u0000"}]},
            "evidence.0.description",
        ),
        (
            {
                "evidence": [
                    {"url": "https://e.example/1", "captured_at": "0001-01-01T00:00:00+14:00"}
                ]
            },
            "evidence.0.captured_at",
        ),
        (
            {
                "evidence": [
                    {"url": "https://e.example/1", "captured_at": "9999-12-31T23:59:59-14:00"}
                ]
            },
            "evidence.0.captured_at",
        ),
    ],
)
async def test_unstorable_flag_fields_are_422(client, cast, change, field):
    body = {**flag_body("twitter"), **change}
    problem = assert_problem(
        await client.post("/v1/flags", json=body, headers=cast["agency"].headers), 422
    )
    assert field in {e["field"] for e in problem["errors"]}


async def test_one_unstorable_batch_item_fails_alone(client, cast):
    flags = [
        flag_body("twitter"),
        {**flag_body("twitter"), "summary": "bad\u0000"},
        flag_body("twitter"),
    ]
    resp = await client.post(
        "/v1/flags/batch", json={"flags": flags}, headers=cast["agency"].headers
    )
    assert resp.status_code == 200, resp.text
    assert [r["status"] for r in resp.json()["results"]] == [201, 422, 201]


async def test_unstorable_text_in_transitions_and_admin_is_422(world, client, cast):
    agency, platform = cast["agency"], cast["platform"]
    flag = (
        await client.post("/v1/flags", json=flag_body("twitter"), headers=agency.headers)
    ).json()
    for path, body, headers in [
        (f"/v1/flags/{flag['id']}/request-info", {"question": "?\u0000"}, platform.headers),
        (
            f"/v1/flags/{flag['id']}/outcome",
            {"action": "account_suspended", "note": "\u0000"},
            platform.headers,
        ),
        (f"/v1/flags/{flag['id']}/withdraw", {"reason": "\u0000"}, agency.headers),
        (
            "/v1/admin/organizations",
            {"kind": "observer", "name": "o\u0000"},
            await world.admin_headers(),
        ),
    ]:
        assert_problem(await client.post(path, json=body, headers=headers), 422)
    resp = await client.post(
        "/v1/outcomes/batch",
        json={
            "items": [
                {
                    "flag_id": flag["id"],
                    "type": "outcome",
                    "action": "no_violation",
                    "note": "\u0000",
                }
            ]
        },
        headers=platform.headers,
    )
    assert resp.json()["results"][0]["status"] == 422


@pytest.mark.parametrize(
    "params",
    [
        {"platform": "a\u0000b"},
        {"submitted_after": "0001-01-01T00:00:00+14:00"},
        {"submitted_before": "2026-01-01T00:00:00"},
        {
            "cursor": base64.urlsafe_b64encode(
                json.dumps(
                    ["0001-01-01T00:00:00+14:00", "00000000-0000-0000-0000-000000000000"]
                ).encode()
            ).decode()
        },
        {
            "cursor": base64.urlsafe_b64encode(
                json.dumps(["2026-01-01T00:00:00", "00000000-0000-0000-0000-000000000000"]).encode()
            ).decode()
        },
    ],
)
async def test_bad_list_parameters_are_422(client, cast, params):
    assert_problem(
        await client.get("/v1/flags", params=params, headers=cast["agency"].headers), 422
    )


async def test_database_data_errors_are_422_and_others_500(app, client):
    from sqlalchemy import text

    async def bad_value() -> None:
        async with app.state.engine.connect() as conn:
            await conn.execute(text("SELECT CAST(:x AS integer)"), {"x": "not a number"})

    async def broken_sql() -> None:
        async with app.state.engine.connect() as conn:
            await conn.execute(text("SELECT * FROM no_such_table"))

    app.add_api_route("/test-bad-value", bad_value)
    app.add_api_route("/test-broken-sql", broken_sql)
    assert_problem(await client.get("/test-bad-value"), 422)
    body = assert_problem(await client.get("/test-broken-sql"), 500)
    assert "no_such_table" not in json.dumps(body)
