"""POST /v1/flags/batch: each flag is validated and stored on its own, results in order."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from tests.conftest import assert_problem, flag_body, party


@pytest.fixture
async def cast(world):
    return {
        "agency": await party(world, "agency", country="ID"),
        "platform": await party(world, "platform", platform="twitter"),
    }


def without(body: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != key}


async def test_invalid_items_in_the_middle_fail_alone(app, client, cast):
    agency, platform = cast["agency"], cast["platform"]
    flags = [
        flag_body("twitter", handle="Batch_Target"),
        without(flag_body("twitter"), "category"),
        flag_body("twitter", priority="urgent"),
        flag_body("twitter", summary="x" * 4001),
        flag_body("twitter", handle="@batch_target"),  # index 0's account, spelled otherwise
        flag_body("myspace"),
        flag_body("twitter", country="SG"),
        flag_body("twitter", kind="removal_order"),
    ]
    resp = await client.post("/v1/flags/batch", json={"flags": flags}, headers=agency.headers)
    assert resp.status_code == 200, resp.text
    results = resp.json()["results"]
    assert [r["index"] for r in results] == list(range(len(flags)))
    assert [r["status"] for r in results] == [201, 422, 201, 422, 409, 422, 422, 201]

    def fields(i: int) -> set[str]:
        return {e["field"] for e in results[i]["error"]["errors"]}

    assert fields(1) == {"category"}
    assert fields(3) == {"summary"}
    assert fields(5) == {"platform"}
    assert fields(6) == {"country"}
    assert results[4]["error"]["existing_flag_id"] == results[0]["flag"]["id"]
    for r in results:
        if r["status"] == 201:
            flag = r["flag"]
            assert flag["status"] == "open" and flag["country"] == "ID"
            assert flag["agency"]["id"] == agency.org_id
            assert r.get("error") is None
        else:
            assert r.get("flag") is None
            assert r["error"]["status"] == r["status"]
            assert {"type", "title", "detail"} <= set(r["error"])
    assert results[2]["flag"]["priority"] == "urgent"
    assert results[7]["flag"]["kind"] == "removal_order"

    created = {results[i]["flag"]["id"] for i in (0, 2, 7)}
    listed = (await client.get("/v1/flags", headers=agency.headers)).json()["items"]
    assert {f["id"] for f in listed} == created
    async with app.state.engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM flag"))).scalar_one() == 3
        submitted = (
            await conn.execute(
                text("SELECT count(*) FROM audit_entry WHERE action = 'flag.submitted'")
            )
        ).scalar_one()
        assert submitted == 3
    feed = (await client.get("/v1/feed", headers=platform.headers)).json()["items"]
    assert [(e["type"], e["flag"]["id"]) for e in feed] == [
        ("flag.created", results[i]["flag"]["id"]) for i in (0, 2, 7)
    ]


async def test_server_fields_in_an_item_fail_that_item_only(client, cast):
    fields = ["country", "status", "agency", "due_at", "id", "delivered_at"]
    flags = []
    for field in fields:
        flags += [flag_body("twitter"), flag_body("twitter", **{field: "XX"})]
    resp = await client.post(
        "/v1/flags/batch", json={"flags": flags}, headers=cast["agency"].headers
    )
    results = resp.json()["results"]
    assert [r["status"] for r in results] == [201, 422] * len(fields)
    for n, field in enumerate(fields):
        assert {e["field"] for e in results[2 * n + 1]["error"]["errors"]} == {field}


async def test_batch_size_limits(client, cast):
    hdrs = cast["agency"].headers
    for flags in ([{}] * 1001, []):
        problem = assert_problem(
            await client.post("/v1/flags/batch", json={"flags": flags}, headers=hdrs), 422
        )
        assert [e["field"] for e in problem["errors"]] == ["flags"], problem
    # 1000 is allowed; each (empty) item fails on its own.
    resp = await client.post("/v1/flags/batch", json={"flags": [{}] * 1000}, headers=hdrs)
    assert resp.status_code == 200, resp.text
    assert {r["status"] for r in resp.json()["results"]} == {422}


async def test_batch_needs_flags_submit(world, client, cast):
    body = {"flags": [flag_body("twitter")]}
    assert_problem(
        await client.post("/v1/flags/batch", json=body, headers=cast["platform"].headers), 403
    )
    assert_problem(await client.post("/v1/flags/batch", json=body), 401)
