"""Account identity through the HTTP API: holds and duplicates on every spelling, conflicts,
no identifier leaks between agencies, platform binding and merging, the race."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from tests.conftest import assert_problem, flag_body, party
from tests.identity.test_canonical import SPELLINGS


def hold_body(platform: str, account: dict) -> dict:
    return {
        "platform": platform,
        "account": account,
        "reason": "Active investigation: do not alert the account holder.",
        "expires_at": (datetime.now(UTC) + timedelta(days=30)).isoformat(),
    }


@pytest.fixture
async def cast(world):
    platforms = {}
    for slug in ("twitter", "facebook", "youtube", "tiktok", "telegram", "instagram"):
        platforms[slug] = await party(world, "platform", platform=slug)
    return {
        "sg": await party(world, "agency", country="SG"),
        "ph": await party(world, "agency", country="PH"),
        "id": await party(world, "agency", country="ID"),
        "au": await party(world, "agency", country="AU"),
        "generic": await party(world, "platform"),
        **platforms,
    }


def _sent(field: str, value: str) -> dict:
    return {field: value}


@pytest.mark.parametrize(("profile", "key", "spellings"), SPELLINGS[:-1])
async def test_no_spelling_gets_past_a_hold_or_the_duplicate_check(
    client, cast, profile, key, spellings
):
    holder, flagger = cast["sg"], cast["ph"]
    held_as, *others = spellings
    resp = await client.post(
        "/v1/holds", json=hold_body(profile, _sent(*held_as)), headers=holder.headers
    )
    assert resp.status_code == 201, resp.text
    first = await client.post(
        "/v1/flags", json=flag_body(profile, account=_sent(*others[0])), headers=flagger.headers
    )
    assert first.status_code == 201 and first.json()["status"] == "held", first.text
    for spelling in others[1:]:
        again = await client.post(
            "/v1/flags", json=flag_body(profile, account=_sent(*spelling)), headers=flagger.headers
        )
        problem = assert_problem(again, 409)
        assert problem["existing_flag_id"] == first.json()["id"], spelling


async def test_invalid_identifiers_are_422_naming_the_field(client, cast):
    agency = cast["sg"]
    for account, field in (
        ({"handle": "a" * 40}, "account.handle"),
        ({"url": "https://evil.example/ab"}, "account.url"),
        ({"id": "not-digits"}, "account.id"),
    ):
        for path, body in (
            ("/v1/flags", flag_body("twitter", account=account)),
            ("/v1/holds", hold_body("twitter", account)),
        ):
            problem = assert_problem(
                await client.post(path, json=body, headers=agency.headers), 422
            )
            assert problem["errors"][0]["field"] == field, problem
    batch = await client.post(
        "/v1/flags/batch",
        json={"flags": [flag_body("twitter", account={"handle": "a" * 40}), flag_body("twitter")]},
        headers=agency.headers,
    )
    results = batch.json()["results"]
    assert [r["status"] for r in results] == [422, 201]
    assert results[0]["error"]["errors"][0]["field"] == "account.handle"


async def _counts(app) -> tuple[int, int, int]:
    async with app.state.engine.connect() as conn:
        row = (
            await conn.execute(
                text(
                    "SELECT (SELECT count(*) FROM account), (SELECT count(*) FROM account_key), "
                    "(SELECT count(*) FROM flag)"
                )
            )
        ).one()
    return row[0], row[1], row[2]


async def test_conflicting_identifiers_are_409_and_change_nothing(app, client, cast):
    indonesia, australia, singapore = cast["id"], cast["au"], cast["sg"]
    first = await client.post(
        "/v1/flags",
        json=flag_body("twitter", account={"id": "98765432101", "handle": "alice"}),
        headers=indonesia.headers,
    )
    assert first.status_code == 201
    await client.post(
        "/v1/flags", json=flag_body("twitter", account={"handle": "bob"}), headers=singapore.headers
    )
    before = await _counts(app)
    # An id contradicting the one bound to the handle.
    resp = await client.post(
        "/v1/flags",
        json=flag_body("twitter", account={"id": "55555555555", "handle": "alice"}),
        headers=australia.headers,
    )
    problem = assert_problem(resp, 409)
    assert problem["type"] == "urn:flagbridge:problem:account-conflict"
    assert problem["errors"] == [
        {"field": "account.id", "message": problem["errors"][0]["message"]}
    ]
    assert "98765432101" not in resp.text
    # Keys naming two different known accounts (alice's id, bob's handle).
    resp = await client.post(
        "/v1/holds",
        json=hold_body("twitter", {"id": "98765432101", "handle": "bob"}),
        headers=australia.headers,
    )
    problem = assert_problem(resp, 409)
    assert problem["type"] == "urn:flagbridge:problem:account-conflict"
    assert {e["field"] for e in problem["errors"]} == {"account.id", "account.handle"}
    assert "alice" not in resp.text
    assert await _counts(app) == before


async def test_no_response_to_an_agency_shows_another_agencys_identifiers(client, cast):
    indonesia, singapore, twitter = cast["id"], cast["sg"], cast["twitter"]
    secret_id, secret_url = "98765432101", "https://mobile.twitter.com/ALICE?ref=indonesia_only"
    a = await client.post(
        "/v1/flags",
        json=flag_body("twitter", account={"id": secret_id, "handle": "alice", "url": secret_url}),
        headers=indonesia.headers,
    )
    assert a.status_code == 201
    b = await client.post(
        "/v1/flags",
        json=flag_body("twitter", account={"handle": "@Alice"}),
        headers=singapore.headers,
    )
    assert b.status_code == 201 and b.json()["account"] == {
        "id": None,
        "handle": "alice",
        "url": None,
    }
    assert b.json()["corroborations"] == {"agencies": 2, "countries": 2}
    batch = await client.post(
        "/v1/flags/batch",
        json={"flags": [flag_body("twitter", account={"url": "https://x.com/alice"})]},
        headers=singapore.headers,
    )
    await client.post(f"/v1/flags/{a.json()['id']}/ack", headers=twitter.headers)
    hold = await client.post(
        "/v1/holds", json=hold_body("twitter", {"handle": "ALICE"}), headers=singapore.headers
    )
    responses = [
        b,
        batch,
        hold,
        await client.get(f"/v1/flags/{b.json()['id']}", headers=singapore.headers),
        await client.get("/v1/flags", headers=singapore.headers),
        await client.get("/v1/feed", headers=singapore.headers),
        await client.get("/v1/holds", headers=singapore.headers),
        await client.get(f"/v1/holds/{hold.json()['id']}", headers=singapore.headers),
    ]
    for resp in responses:
        assert resp.status_code < 300, resp.text
        for secret in (secret_id, "indonesia_only", "mobile.twitter.com"):
            assert secret not in resp.text, (resp.request.url, resp.text)
    # The platform sees the identifiers of the flags addressed to it.
    seen = await client.get(f"/v1/flags/{a.json()['id']}", headers=twitter.headers)
    assert seen.json()["account"]["id"] == secret_id


async def test_two_agencies_flagging_one_account_at_once_both_corroborate(app, world, client, cast):
    twitter = cast["twitter"]
    for round_ in range(4):
        agencies = [await party(world, "agency", country=cc) for cc in ("MY", "TH")]
        handle = f"together_{round_}"
        results = await asyncio.gather(
            *(
                client.post(
                    "/v1/flags", json=flag_body("twitter", handle=handle), headers=a.headers
                )
                for a in agencies
            )
        )
        assert [r.status_code for r in results] == [201, 201]
        counts = sorted(r.json()["corroborations"]["agencies"] for r in results)
        # The later of the two always sees the earlier one.
        assert counts == [1, 2], counts
        ids = [r.json()["id"] for r in results]
        async with app.state.engine.connect() as conn:
            events = (
                await conn.execute(
                    text(
                        "SELECT count(*) FROM feed_event WHERE type = 'flag.corroborated' "
                        "AND recipient_org_id = :p AND flag_id = ANY(:ids)"
                    ),
                    {"p": twitter.org_id, "ids": ids},
                )
            ).scalar()
        assert events == 1


async def test_platform_binds_the_id_and_a_new_handle(app, client, cast):
    singapore, philippines, twitter = cast["sg"], cast["ph"], cast["twitter"]
    flag = (
        await client.post(
            "/v1/flags", json=flag_body("twitter", handle="oldname"), headers=singapore.headers
        )
    ).json()
    resp = await client.post(
        f"/v1/flags/{flag['id']}/ack",
        json={"account": {"id": "4242", "handle": "newname"}},
        headers=twitter.headers,
    )
    assert resp.status_code == 200 and resp.json()["status"] == "acknowledged"
    # The agency's flag keeps what the agency sent; its history says what the platform bound.
    mine = (await client.get(f"/v1/flags/{flag['id']}", headers=singapore.headers)).json()
    assert mine["account"]["handle"] == "oldname"
    bound = [e for e in mine["events"] if e["type"] == "account.bound"]
    assert bound and bound[0]["data"] == {"id": "4242", "handle": "newname"}
    # New spellings now match: the id and the new handle are the same account...
    for account in ({"id": "4242"}, {"url": "https://x.com/NewName/status/9"}):
        dup = await client.post(
            "/v1/flags", json=flag_body("twitter", account=account), headers=singapore.headers
        )
        assert assert_problem(dup, 409)["existing_flag_id"] == flag["id"]
    # ...and the old handle was released: it may be someone else's now.
    other = await client.post(
        "/v1/flags", json=flag_body("twitter", handle="oldname"), headers=philippines.headers
    )
    assert other.json()["corroborations"]["agencies"] == 1
    async with app.state.engine.connect() as conn:
        actions = (
            (
                await conn.execute(
                    text("SELECT action FROM audit_entry WHERE object_id = :f ORDER BY seq"),
                    {"f": flag["id"]},
                )
            )
            .scalars()
            .all()
        )
    assert "account.bound" in actions


async def test_platform_id_merges_two_accounts_and_withdraws_a_same_agency_duplicate(client, cast):
    singapore, philippines, australia, twitter = cast["sg"], cast["ph"], cast["au"], cast["twitter"]
    a = (
        await client.post(
            "/v1/flags", json=flag_body("twitter", handle="first_name"), headers=singapore.headers
        )
    ).json()
    b = (
        await client.post(
            "/v1/flags",
            json=flag_body("twitter", handle="second_name"),
            headers=philippines.headers,
        )
    ).json()
    dup = (
        await client.post(
            "/v1/flags",
            json=flag_body("twitter", handle="second_name_x"),
            headers=singapore.headers,
        )
    ).json()
    await client.post(
        f"/v1/flags/{b['id']}/ack", json={"account": {"id": "777"}}, headers=twitter.headers
    )
    await client.post(
        f"/v1/flags/{dup['id']}/ack", json={"account": {"id": "777"}}, headers=twitter.headers
    )
    assert a["corroborations"]["agencies"] == 1
    # The platform says the first account is also 777: all three flags are on one account.
    resp = await client.post(
        "/v1/outcomes/batch",
        json={"items": [{"flag_id": a["id"], "type": "ack", "account": {"id": "777"}}]},
        headers=twitter.headers,
    )
    assert resp.json()["results"][0]["status"] == 200
    mine = (await client.get(f"/v1/flags/{a['id']}", headers=singapore.headers)).json()
    assert mine["corroborations"] == {"agencies": 2, "countries": 2}
    assert any(e["type"] == "account.merged" for e in mine["events"])
    later = (await client.get(f"/v1/flags/{dup['id']}", headers=singapore.headers)).json()
    assert later["status"] == "withdrawn"
    assert later["events"][-1]["data"]["duplicate_of"] == a["id"]
    # A hold on any of the merged spellings now holds new flags on the account.
    await client.post(
        "/v1/holds", json=hold_body("twitter", {"handle": "first_name"}), headers=singapore.headers
    )
    held = await client.post(
        "/v1/flags", json=flag_body("twitter", handle="second_name"), headers=australia.headers
    )
    assert held.json()["status"] == "held"


async def test_operators_set_a_platforms_identity_profile(client, world, cast):
    admin = await world.admin_headers()
    generic = cast["generic"]
    created = await client.post(
        "/v1/admin/organizations",
        json={
            "kind": "platform",
            "name": "Chirp",
            "platform": "chirp",
            "identity_profile": "twitter",
        },
        headers=admin,
    )
    assert created.status_code == 201 and created.json()["identity_profile"] == "twitter"
    listed = (await client.get("/v1/admin/organizations?kind=platform", headers=admin)).json()
    assert {o["platform"]: o["identity_profile"] for o in listed["items"]}["youtube"] == "youtube"
    agency = cast["sg"]
    slug = next(o["platform"] for o in listed["items"] if o["id"] == generic.org_id)
    long_handle = {"handle": "a_long_handle_beyond_fifteen"}
    ok = await client.post(
        "/v1/flags", json=flag_body(slug, account=long_handle), headers=agency.headers
    )
    assert ok.status_code == 201
    patched = await client.patch(
        f"/v1/admin/organizations/{generic.org_id}",
        json={"identity_profile": "twitter"},
        headers=admin,
    )
    assert patched.status_code == 200 and patched.json()["identity_profile"] == "twitter"
    # Submissions follow the new profile at once (the per-process cache is checked in SQL).
    refused = await client.post(
        "/v1/flags",
        json=flag_body(slug, account={"handle": "b_long_handle_beyond_fifteen"}),
        headers=agency.headers,
    )
    assert assert_problem(refused, 422)["errors"][0]["field"] == "account.handle"
    bad = await client.patch(
        f"/v1/admin/organizations/{generic.org_id}",
        json={"identity_profile": "myspace"},
        headers=admin,
    )
    assert assert_problem(bad, 422)["errors"][0]["field"] == "identity_profile"
    assert json.loads(bad.text)["status"] == 422


async def test_concurrent_transactions_on_one_account_serialise_and_corroborate(
    client, cast, database_url
):
    """Two real connections submit on one known account; the second waits for the first's
    lock on the account, then counts its flag and tells the platform it is corroborated."""
    import asyncpg

    from app.identity.service import identity_of

    first_agency, second_agency, third = cast["id"], cast["au"], cast["sg"]
    seed = (
        await client.post(
            "/v1/flags", json=flag_body("twitter", handle="shared_acct"), headers=third.headers
        )
    ).json()
    await client.post(
        f"/v1/flags/{seed['id']}/withdraw", json={"reason": "r"}, headers=third.headers
    )
    body = flag_body("twitter", handle="SHARED_ACCT")
    body.update({"kind": "referral", "priority": "standard", "external_ref": None})
    body["identity"] = identity_of("twitter", body["account"])
    dsn = database_url.replace("postgresql+asyncpg://", "postgresql://")
    one, two = await asyncpg.connect(dsn), await asyncpg.connect(dsn)
    sql = "SELECT fb_submit_flag($1, $2, $3, $4::jsonb, 'r', NULL)::text"
    try:
        tx = one.transaction()
        await tx.start()
        a = json.loads(
            await one.fetchval(
                sql, first_agency.org_id, first_agency.creds.client_id, "ID", json.dumps(body)
            )
        )
        second = asyncio.create_task(
            two.fetchval(
                sql, second_agency.org_id, second_agency.creds.client_id, "AU", json.dumps(body)
            )
        )
        deadline = asyncio.get_running_loop().time() + 10
        while True:
            waiting = await one.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND datname = current_database()"
            )
            if waiting:
                break
            assert asyncio.get_running_loop().time() < deadline, "second never waited"
            await asyncio.sleep(0.02)
        await tx.commit()
        b = json.loads(await second)
    finally:
        await one.close()
        await two.close()
    assert a["body"]["corroborations"]["agencies"] == 1
    assert b["body"]["corroborations"]["agencies"] == 2
    corroborated = await client.get(f"/v1/flags/{a['body']['id']}", headers=first_agency.headers)
    assert corroborated.json()["corroborations"]["agencies"] == 2
