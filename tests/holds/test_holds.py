"""Deconfliction holds: held flags stay out of the platform's feed until release or expiry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from app.holds.service import sweep_expired_holds
from tests.conftest import assert_problem, flag_body, party


def hold_body(platform: str, handle: str, days: float = 30, **over):
    body = {
        "platform": platform,
        "account": {"handle": handle},
        "reason": "Active investigation: do not alert the account holder.",
        "expires_at": (datetime.now(UTC) + timedelta(days=days)).isoformat(),
    }
    body.update(over)
    return body


@pytest.fixture
async def cast(world):
    """The holding agency (AU), a flagging agency (ID), the platform, another platform."""
    return {
        "holder": await party(world, "agency", country="AU"),
        "flagger": await party(world, "agency", country="ID"),
        "platform": await party(world, "platform", platform="twitter"),
        "other_platform": await party(world, "platform", platform="youtube"),
    }


async def feed(client, who, cursor=None):
    params = {"cursor": cursor} if cursor else {}
    resp = await client.get("/v1/feed", params=params, headers=who.headers)
    assert resp.status_code == 200, resp.text
    return resp.json()


async def test_create_list_get_and_release_own_hold(client, cast):
    holder = cast["holder"]
    resp = await client.post(
        "/v1/holds", json=hold_body("twitter", "@Target"), headers=holder.headers
    )
    assert resp.status_code == 201, resp.text
    hold = resp.json()
    assert hold["status"] == "active" and hold["account"]["handle"] == "target"
    assert hold["country"] == "AU"
    listed = await client.get("/v1/holds", headers=holder.headers)
    assert [h["id"] for h in listed.json()["items"]] == [hold["id"]]
    got = await client.get(f"/v1/holds/{hold['id']}", headers=holder.headers)
    assert got.json()["id"] == hold["id"]
    released = await client.delete(f"/v1/holds/{hold['id']}", headers=holder.headers)
    assert released.status_code == 200 and released.json()["status"] == "released"
    again = await client.delete(f"/v1/holds/{hold['id']}", headers=holder.headers)
    assert again.json()["released_at"] == released.json()["released_at"]


async def test_holds_are_invisible_to_everyone_else(world, client, cast):
    hold = (
        await client.post(
            "/v1/holds", json=hold_body("twitter", "secret"), headers=cast["holder"].headers
        )
    ).json()
    for who in (cast["flagger"],):
        assert_problem(await client.get(f"/v1/holds/{hold['id']}", headers=who.headers), 404)
        assert_problem(await client.delete(f"/v1/holds/{hold['id']}", headers=who.headers), 404)
        assert (await client.get("/v1/holds", headers=who.headers)).json()["items"] == []
    for kind in ("platform", "observer", "operator"):
        p = await party(world, kind)
        assert_problem(await client.get("/v1/holds", headers=p.headers), 403)
        assert_problem(await client.get(f"/v1/holds/{hold['id']}", headers=p.headers), 403)
    assert_problem(await client.get("/v1/holds"), 401)


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"expires_at": (datetime.now(UTC) + timedelta(days=91)).isoformat()}, "expires_at"),
        ({"expires_at": (datetime.now(UTC) - timedelta(minutes=1)).isoformat()}, "expires_at"),
        ({"expires_at": "2030-01-01T00:00:00"}, "expires_at"),
        ({"platform": "myspace"}, "platform"),
        ({"reason": ""}, "reason"),
        ({"account": {}}, "account"),
    ],
)
async def test_invalid_holds_are_422(client, cast, over, field):
    resp = await client.post(
        "/v1/holds", json={**hold_body("twitter", "x"), **over}, headers=cast["holder"].headers
    )
    problem = assert_problem(resp, 422)
    assert field in {e["field"] for e in problem["errors"]}


async def test_flag_on_held_account_is_held_and_hidden_until_release(client, cast):
    holder, flagger, platform = cast["holder"], cast["flagger"], cast["platform"]
    hold = (
        await client.post("/v1/holds", json=hold_body("twitter", "suspect"), headers=holder.headers)
    ).json()
    start = await feed(client, platform)

    flag = (
        await client.post(
            "/v1/flags", json=flag_body("twitter", handle="@Suspect"), headers=flagger.headers
        )
    ).json()
    assert flag["status"] == "held" and flag["due_at"] is None

    # The platform neither sees it in its feed nor can read it.
    assert (await feed(client, platform, start["next_cursor"]))["items"] == []
    assert_problem(await client.get(f"/v1/flags/{flag['id']}", headers=platform.headers), 404)
    assert_problem(await client.post(f"/v1/flags/{flag['id']}/ack", headers=platform.headers), 404)

    # The flagger learns its flag is held; the holder learns of the conflict, by country only.
    flagger_events = (await feed(client, flagger))["items"]
    assert [e["type"] for e in flagger_events] == ["flag.held"]
    conflict = [e for e in (await feed(client, holder))["items"] if e["type"] == "hold.conflict"]
    assert len(conflict) == 1
    assert conflict[0]["hold"]["id"] == hold["id"]
    assert conflict[0]["data"]["flagged_by_country"] == "ID"
    assert flagger.org_id not in str(conflict[0])

    # Release: the flag opens, its clock starts now, and the platform gets it.
    resp = await client.delete(f"/v1/holds/{hold['id']}", headers=holder.headers)
    assert resp.status_code == 200
    opened = (await client.get(f"/v1/flags/{flag['id']}", headers=flagger.headers)).json()
    assert opened["status"] == "open"
    due = datetime.fromisoformat(opened["due_at"])
    assert datetime.now(UTC) + timedelta(hours=23) < due <= datetime.now(UTC) + timedelta(hours=24)
    items = (await feed(client, platform, start["next_cursor"]))["items"]
    assert [(e["type"], e["flag"]["id"]) for e in items] == [("flag.created", flag["id"])]
    assert "flag.released" in [e["type"] for e in (await feed(client, flagger))["items"]]
    # Its history shows the hold to the agency, but not to the platform.
    agency_view = [e["type"] for e in opened["events"]]
    assert agency_view[:2] == ["submitted", "held"] and "released" in agency_view
    platform_view = (await client.get(f"/v1/flags/{flag['id']}", headers=platform.headers)).json()
    assert not {"held", "released"} & {e["type"] for e in platform_view["events"]}


async def test_holder_flagging_its_own_held_account_is_not_held(client, cast):
    holder = cast["holder"]
    await client.post("/v1/holds", json=hold_body("twitter", "mine"), headers=holder.headers)
    flag = (
        await client.post(
            "/v1/flags", json=flag_body("twitter", handle="mine"), headers=holder.headers
        )
    ).json()
    assert flag["status"] == "open"


async def test_hold_on_another_platform_does_not_hold(client, cast):
    await client.post(
        "/v1/holds", json=hold_body("youtube", "same"), headers=cast["holder"].headers
    )
    flag = (
        await client.post(
            "/v1/flags", json=flag_body("twitter", handle="same"), headers=cast["flagger"].headers
        )
    ).json()
    assert flag["status"] == "open"


async def test_expired_hold_releases_its_flags(app, client, cast):
    holder, flagger, platform = cast["holder"], cast["flagger"], cast["platform"]
    hold = (
        await client.post(
            "/v1/holds", json=hold_body("twitter", "expiring"), headers=holder.headers
        )
    ).json()
    flag = (
        await client.post(
            "/v1/flags", json=flag_body("twitter", handle="expiring"), headers=flagger.headers
        )
    ).json()
    assert flag["status"] == "held"
    async with app.state.engine.begin() as conn:
        await conn.execute(
            text("UPDATE hold SET expires_at = now() - interval '1 second' WHERE id = :id"),
            {"id": hold["id"]},
        )
    swept = await sweep_expired_holds(sessionmaker=app.state.sessionmaker)
    assert swept == 1
    assert await sweep_expired_holds(sessionmaker=app.state.sessionmaker) == 0
    assert (await client.get(f"/v1/flags/{flag['id']}", headers=flagger.headers)).json()[
        "status"
    ] == "open"
    assert (await client.get(f"/v1/holds/{hold['id']}", headers=holder.headers)).json()[
        "status"
    ] == "expired"
    assert "flag.created" in [e["type"] for e in (await feed(client, platform))["items"]]


async def test_flag_stays_held_while_another_agencys_hold_remains(world, client, cast):
    holder, flagger = cast["holder"], cast["flagger"]
    second = await party(world, "agency", country="NZ")
    h1 = (
        await client.post("/v1/holds", json=hold_body("twitter", "two"), headers=holder.headers)
    ).json()
    h2 = (
        await client.post("/v1/holds", json=hold_body("twitter", "two"), headers=second.headers)
    ).json()
    flag = (
        await client.post(
            "/v1/flags", json=flag_body("twitter", handle="two"), headers=flagger.headers
        )
    ).json()
    await client.delete(f"/v1/holds/{h1['id']}", headers=holder.headers)
    assert (await client.get(f"/v1/flags/{flag['id']}", headers=flagger.headers)).json()[
        "status"
    ] == "held"
    await client.delete(f"/v1/holds/{h2['id']}", headers=second.headers)
    assert (await client.get(f"/v1/flags/{flag['id']}", headers=flagger.headers)).json()[
        "status"
    ] == "open"


async def test_withdrawn_held_flag_never_reaches_the_platform(client, cast):
    holder, flagger, platform = cast["holder"], cast["flagger"], cast["platform"]
    hold = (
        await client.post("/v1/holds", json=hold_body("twitter", "quiet"), headers=holder.headers)
    ).json()
    flag = (
        await client.post(
            "/v1/flags", json=flag_body("twitter", handle="quiet"), headers=flagger.headers
        )
    ).json()
    resp = await client.post(
        f"/v1/flags/{flag['id']}/withdraw", json={"reason": "deconflicted"}, headers=flagger.headers
    )
    assert resp.json()["status"] == "withdrawn"
    await client.delete(f"/v1/holds/{hold['id']}", headers=holder.headers)
    assert (await feed(client, platform))["items"] == []


async def test_hold_creation_is_idempotent(app, client, cast):
    holder = cast["holder"]
    body = hold_body("twitter", "idem")
    headers = {**holder.headers, "Idempotency-Key": "hold-1"}
    first = await client.post("/v1/holds", json=body, headers=headers)
    second = await client.post("/v1/holds", json=body, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert second.headers.get("idempotent-replayed") == "true"
    async with app.state.engine.connect() as conn:
        count = (await conn.execute(text("SELECT count(*) FROM hold"))).scalar()
    assert count == 1
    other = await client.post("/v1/holds", json=hold_body("twitter", "idem2"), headers=headers)
    assert_problem(other, 422)


async def test_platform_cannot_tell_a_flag_was_held(app, client, cast):
    holder, flagger, platform = cast["holder"], cast["flagger"], cast["platform"]
    hold = (
        await client.post("/v1/holds", json=hold_body("twitter", "timing"), headers=holder.headers)
    ).json()
    flag = (
        await client.post(
            "/v1/flags", json=flag_body("twitter", handle="timing"), headers=flagger.headers
        )
    ).json()
    # The hold lasted an hour.
    async with app.state.engine.begin() as conn:
        await conn.execute(
            text("UPDATE flag SET submitted_at = submitted_at - interval '1 hour' WHERE id = :id"),
            {"id": flag["id"]},
        )
        await conn.execute(
            text("UPDATE flag_event SET at = at - interval '1 hour' WHERE flag_id = :id"),
            {"id": flag["id"]},
        )
    await client.delete(f"/v1/holds/{hold['id']}", headers=holder.headers)
    seen = (await client.get(f"/v1/flags/{flag['id']}", headers=platform.headers)).json()
    due = datetime.fromisoformat(seen["due_at"]) - datetime.fromisoformat(seen["submitted_at"])
    assert due == timedelta(hours=24)  # exactly the policy: no trace of the hour on hold
    assert seen["events"][0]["type"] == "submitted"
    assert seen["events"][0]["at"] == seen["submitted_at"]
    fed = [e for e in (await feed(client, platform))["items"] if e["type"] == "flag.created"]
    assert fed[0]["flag"]["submitted_at"] == seen["submitted_at"]
    # The agency still sees when it really submitted.
    own = (await client.get(f"/v1/flags/{flag['id']}", headers=flagger.headers)).json()
    assert datetime.fromisoformat(own["submitted_at"]) < datetime.fromisoformat(
        seen["submitted_at"]
    )


async def test_release_racing_a_held_submission_never_strands_the_flag(
    app, client, cast, database_url
):
    """A submission that sees the hold and a release that commits meanwhile: the flag opens."""
    import asyncio
    import json as _json

    import asyncpg

    from app.identity.service import identity_of

    holder, flagger = cast["holder"], cast["flagger"]
    hold = (
        await client.post("/v1/holds", json=hold_body("twitter", "racy"), headers=holder.headers)
    ).json()
    conn = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        tx = conn.transaction()
        await tx.start()
        body = flag_body("twitter", handle="racy")
        body.update({"kind": "referral", "priority": "standard", "external_ref": None})
        body["account"] = {"id": None, "url": None, "handle": "racy"}
        body["identity"] = identity_of("twitter", body["account"])
        result = _json.loads(
            await conn.fetchval(
                "SELECT fb_submit_flag($1, $2, 'ID', $3::jsonb, 'r', NULL)::text",
                flagger.org_id,
                flagger.creds.client_id,
                _json.dumps(body),
            )
        )
        assert result["body"]["status"] == "held"
        release = asyncio.create_task(
            client.delete(f"/v1/holds/{hold['id']}", headers=holder.headers)
        )
        # The release waits for the submission's lock on the hold: poll until it is waiting.
        deadline = asyncio.get_running_loop().time() + 10
        while True:
            async with app.state.engine.connect() as probe:
                waiting = (
                    await probe.execute(
                        text(
                            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                            "AND datname = current_database()"
                        )
                    )
                ).scalar()
            if waiting or asyncio.get_running_loop().time() > deadline:
                break
            await asyncio.sleep(0.02)
        assert waiting and not release.done()
        await tx.commit()
        assert (await release).status_code == 200
    finally:
        await conn.close()
    flag_id = result["body"]["id"]
    status = (await client.get(f"/v1/flags/{flag_id}", headers=flagger.headers)).json()["status"]
    assert status == "open"
