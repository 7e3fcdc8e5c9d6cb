"""Idempotency-Key on flag submission: replays, mismatches, scoping, and concurrent retries."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import text

from tests.conftest import Credentials, Party, assert_problem, flag_body, party


@pytest.fixture
async def cast(world):
    return {
        "agency": await party(world, "agency", country="ID"),
        "platform": await party(world, "platform", platform="twitter"),
    }


async def count(app, sql: str = "SELECT count(*) FROM flag", **params: Any) -> int:
    async with app.state.engine.connect() as conn:
        return int((await conn.execute(text(sql), params)).scalar_one())


async def another_client_of(world, who: Party) -> Party:
    """A second API client of the same organisation."""
    resp = await world.client.post(
        "/v1/admin/clients",
        json={"organization_id": who.org_id, "name": "second client"},
        headers=await world.admin_headers(),
    )
    assert resp.status_code == 201, resp.text
    data = resp.json()
    creds = Credentials(
        who.org_id, data["client_id"], data["client_secret"], who.creds.kind, data["scopes"]
    )
    return Party(creds, {"Authorization": f"Bearer {await world.token(creds)}"})


def keyed(who: Party, key: str) -> dict[str, str]:
    return {**who.headers, "Idempotency-Key": key}


async def test_replay_returns_the_original_response_and_creates_nothing(app, client, cast):
    body = flag_body("twitter")
    first = await client.post("/v1/flags", json=body, headers=keyed(cast["agency"], "k-1"))
    assert first.status_code == 201, first.text
    assert "idempotent-replayed" not in first.headers
    for _ in range(2):
        again = await client.post("/v1/flags", json=body, headers=keyed(cast["agency"], "k-1"))
        assert again.status_code == 201
        assert again.headers["idempotent-replayed"] == "true"
        assert again.json() == first.json()
        assert again.headers["location"] == first.headers["location"]
    assert await count(app) == 1
    assert await count(app, "SELECT count(*) FROM feed_event WHERE type = 'flag.created'") == 1
    assert await count(app, "SELECT count(*) FROM audit_entry WHERE action = 'flag.submitted'") == 1


async def test_same_key_with_a_different_body_is_422(app, client, cast):
    hdrs = keyed(cast["agency"], "k-2")
    assert (
        await client.post("/v1/flags", json=flag_body("twitter"), headers=hdrs)
    ).status_code == 201
    problem = assert_problem(
        await client.post("/v1/flags", json=flag_body("twitter"), headers=hdrs), 422
    )
    assert [e["field"] for e in problem["errors"]] == ["Idempotency-Key"]
    assert await count(app) == 1


async def test_key_is_scoped_to_the_client(app, world, client, cast):
    agency = cast["agency"]
    colleague = await another_client_of(world, agency)
    a = await client.post("/v1/flags", json=flag_body("twitter"), headers=keyed(agency, "shared"))
    # Same organisation, same key, another client (and another account: the same account
    # would be a duplicate of the organisation's open flag).
    b = await client.post(
        "/v1/flags", json=flag_body("twitter"), headers=keyed(colleague, "shared")
    )
    assert a.status_code == b.status_code == 201, (a.text, b.text)
    assert "idempotent-replayed" not in b.headers
    assert a.json()["id"] != b.json()["id"]
    assert await count(app) == 2


async def test_key_is_scoped_to_the_route(app, client, cast):
    hdrs = keyed(cast["agency"], "route-key")
    single = await client.post("/v1/flags", json=flag_body("twitter"), headers=hdrs)
    batch = await client.post(
        "/v1/flags/batch", json={"flags": [flag_body("twitter")]}, headers=hdrs
    )
    assert single.status_code == 201, single.text
    assert batch.status_code == 200 and "idempotent-replayed" not in batch.headers
    assert batch.json()["results"][0]["status"] == 201
    assert await count(app) == 2


async def test_concurrent_requests_with_one_key_create_one_flag(app, client, cast):
    # Each round races requests on separate pool connections; whichever order they run in,
    # one creates, the others see 409 (in flight) or the replay.
    for concurrency, round_ in [(2, 0), (2, 1), (2, 2), (6, 0), (6, 1)]:
        body = flag_body("twitter")
        hdrs = keyed(cast["agency"], f"race-{concurrency}-{round_}")
        responses = await asyncio.gather(
            *(client.post("/v1/flags", json=body, headers=hdrs) for _ in range(concurrency))
        )
        originals = [
            r for r in responses if r.status_code == 201 and "idempotent-replayed" not in r.headers
        ]
        assert len(originals) == 1, [(r.status_code, r.text) for r in responses]
        created = originals[0].json()
        for r in responses:
            if r is originals[0]:
                continue
            if r.status_code == 409:
                problem = assert_problem(r, 409)
                assert "Idempotency-Key" in problem["detail"], problem
            else:
                assert r.status_code == 201 and r.headers["idempotent-replayed"] == "true"
                assert r.json() == created
        handle = body["account"]["handle"]
        n = await count(
            app,
            "SELECT count(*) FROM flag f WHERE f.account_ref->>'handle' = :h",
            h=handle,
        )
        assert n == 1
    assert await count(app) == 5


async def test_concurrent_batches_with_one_key_store_one_set(app, client, cast):
    body = {"flags": [flag_body("twitter") for _ in range(3)]}
    hdrs = keyed(cast["agency"], "batch-race")
    responses = await asyncio.gather(
        *(client.post("/v1/flags/batch", json=body, headers=hdrs) for _ in range(4))
    )
    assert {r.status_code for r in responses} <= {200, 409}, [r.text for r in responses]
    assert await count(app) == 3
    ok = [r.json() for r in responses if r.status_code == 200]
    assert ok and all(r == ok[0] for r in ok)


async def test_a_duplicate_409_is_itself_replayed(app, client, cast):
    agency = cast["agency"]
    body = flag_body("twitter", handle="dupe_target")
    existing = (await client.post("/v1/flags", json=body, headers=agency.headers)).json()
    dup = await client.post("/v1/flags", json=body, headers=keyed(agency, "dup-key"))
    problem = assert_problem(dup, 409)
    assert problem["existing_flag_id"] == existing["id"]
    # Even once the account is free again, the key still answers with what it answered.
    await client.post(
        f"/v1/flags/{existing['id']}/withdraw", json={"reason": "x"}, headers=agency.headers
    )
    again = await client.post("/v1/flags", json=body, headers=keyed(agency, "dup-key"))
    assert_problem(again, 409)
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == dup.json()
    assert await count(app) == 1


async def test_batch_with_a_key_replays_the_whole_results_list(app, client, cast):
    body = {"flags": [flag_body("twitter"), {"platform": "twitter"}, flag_body("twitter")]}
    hdrs = keyed(cast["agency"], "batch-key")
    first = await client.post("/v1/flags/batch", json=body, headers=hdrs)
    assert first.status_code == 200, first.text
    assert [r["status"] for r in first.json()["results"]] == [201, 422, 201]
    again = await client.post("/v1/flags/batch", json=body, headers=hdrs)
    assert again.status_code == 200
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert await count(app) == 2
    changed = {"flags": [*body["flags"][:2], flag_body("twitter")]}
    problem = assert_problem(await client.post("/v1/flags/batch", json=changed, headers=hdrs), 422)
    assert problem["errors"][0]["field"] == "Idempotency-Key"
    assert await count(app) == 2


async def test_batch_differing_only_in_an_invalid_item_is_422(app, client, cast):
    valid = flag_body("twitter")
    hdrs = keyed(cast["agency"], "batch-invalid")
    first = await client.post(
        "/v1/flags/batch", json={"flags": [valid, {"category": "spam"}]}, headers=hdrs
    )
    assert first.status_code == 200
    other = await client.post(
        "/v1/flags/batch", json={"flags": [valid, {"summary": "something else"}]}, headers=hdrs
    )
    assert_problem(other, 422)


async def test_key_length_limit(app, client, cast):
    agency = cast["agency"]
    for length in (256, 1000):
        for path, body in (
            ("/v1/flags", flag_body("twitter")),
            ("/v1/flags/batch", {"flags": [flag_body("twitter")]}),
        ):
            resp = await client.post(path, json=body, headers=keyed(agency, "k" * length))
            problem = assert_problem(resp, 422)
            assert "Idempotency-Key" in {e["field"] for e in problem["errors"]}, problem
    assert await count(app) == 0
    ok = await client.post("/v1/flags", json=flag_body("twitter"), headers=keyed(agency, "k" * 255))
    assert ok.status_code == 201, ok.text
    batch = await client.post(
        "/v1/flags/batch", json={"flags": [flag_body("twitter")]}, headers=keyed(agency, "b" * 255)
    )
    assert batch.status_code == 200 and batch.json()["results"][0]["status"] == 201
