"""Who may do what to a flag: every flag route against every kind of caller.

401 without a token, 403 when the token lacks the route's scope, 404 when the caller has
the scope but the flag is not theirs (never 403: that would reveal that it exists).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import Party, assert_problem, flag_body, party

CALLERS = ["owner", "other_agency", "platform", "other_platform", "observer", "operator", "none"]


@pytest.fixture
async def cast(world):
    observer = await world.credentials("observer", scopes=["stats:read", "audit:read"])
    return {
        "owner": await party(world, "agency", country="ID"),
        "other_agency": await party(world, "agency", country="MY"),
        "platform": await party(world, "platform", platform="twitter"),
        "other_platform": await party(world, "platform", platform="youtube"),
        "observer": Party(observer, {"Authorization": f"Bearer {await world.token(observer)}"}),
        "operator": Party(await world.operator(), await world.admin_headers()),
    }


def headers(cast, who: str) -> dict[str, str]:
    return {} if who == "none" else cast[who].headers


async def new_flag(client, cast, *, info_requested: bool = False) -> dict[str, Any]:
    resp = await client.post("/v1/flags", json=flag_body("twitter"), headers=cast["owner"].headers)
    assert resp.status_code == 201, resp.text
    flag = resp.json()
    if info_requested:
        resp = await client.post(
            f"/v1/flags/{flag['id']}/request-info",
            json={"question": "Which post?"},
            headers=cast["platform"].headers,
        )
        assert resp.status_code == 200, resp.text
        flag = resp.json()
    return dict(flag)


Call = Callable[[httpx.AsyncClient, dict[str, str], str], Awaitable[httpx.Response]]


def post(path: str, body: dict[str, Any] | None) -> Call:
    async def call(client, hdrs, flag_id):
        return await client.post(path.format(id=flag_id), json=body, headers=hdrs)

    return call


def get(path: str) -> Call:
    async def call(client, hdrs, flag_id):
        return await client.get(path.format(id=flag_id), headers=hdrs)

    return call


OK, UNAUTH, FORBID, HIDDEN = 200, 401, 403, 404
RESPOND = {
    "owner": FORBID,
    "other_agency": FORBID,
    "platform": OK,
    "other_platform": HIDDEN,
    "observer": FORBID,
    "operator": FORBID,
    "none": UNAUTH,
}
SUBMIT = {
    "owner": OK,
    "other_agency": HIDDEN,
    "platform": FORBID,
    "other_platform": FORBID,
    "observer": FORBID,
    "operator": FORBID,
    "none": UNAUTH,
}

# route name -> (call, flag must be info_requested, expected status by caller)
MATRIX: dict[str, tuple[Call, bool, dict[str, int]]] = {
    "list": (
        get("/v1/flags"),
        False,
        {**SUBMIT, "other_agency": OK},  # a list of its own flags (without this one)
    ),
    "get": (
        get("/v1/flags/{id}"),
        False,
        {
            "owner": OK,
            "other_agency": HIDDEN,
            "platform": OK,
            "other_platform": HIDDEN,
            "observer": OK,  # audit:read
            "operator": OK,  # admin
            "none": UNAUTH,
        },
    ),
    "withdraw": (post("/v1/flags/{id}/withdraw", {"reason": "error"}), False, SUBMIT),
    "info": (post("/v1/flags/{id}/info", {"note": "the answer"}), True, SUBMIT),
    "ack": (post("/v1/flags/{id}/ack", None), False, RESPOND),
    "request-info": (post("/v1/flags/{id}/request-info", {"question": "?"}), False, RESPOND),
    "outcome": (post("/v1/flags/{id}/outcome", {"action": "content_removed"}), False, RESPOND),
    "batch-item": (
        # Scope failures refuse the whole request; not-yours is the item's own 404.
        lambda client, hdrs, flag_id: client.post(
            "/v1/outcomes/batch",
            json={"items": [{"flag_id": flag_id, "type": "outcome", "action": "no_violation"}]},
            headers=hdrs,
        ),
        False,
        {**RESPOND, "other_platform": OK},
    ),
    "feed": (
        get("/v1/feed?limit=1000"),
        False,
        {**SUBMIT, "other_agency": OK, "platform": OK, "other_platform": OK},
    ),
}


async def test_every_route_by_every_caller(client, cast):
    # One test for the whole matrix (setting up the seven callers is the slow part); every
    # mismatch is collected and reported together.
    failures = []
    for route, (call, info_requested, want) in MATRIX.items():
        assert set(want) == set(CALLERS)
        failures += await check_route(client, cast, route, call, info_requested, want)
    assert not failures, "\n".join(failures)


async def check_route(client, cast, route, call, info_requested, want) -> list[str]:
    failures = []
    for who in CALLERS:
        flag = await new_flag(client, cast, info_requested=info_requested)
        resp = await call(client, headers(cast, who), flag["id"])
        if resp.status_code != want[who]:
            failures.append(f"{route} as {who}: {resp.status_code} != {want[who]}: {resp.text}")
            continue
        if want[who] >= 400:
            assert_problem(resp, want[who])
            # A refusal leaves the flag as it was.
            state = await client.get(f"/v1/flags/{flag['id']}", headers=cast["owner"].headers)
            assert state.json()["status"] == flag["status"]
            continue
        data = resp.json()
        if route == "list":
            ids = [f["id"] for f in data["items"]]
            assert (flag["id"] in ids) is (who == "owner"), (who, ids)
        elif route == "get":
            assert data["id"] == flag["id"]
        elif route == "batch-item":
            result = data["results"][0]
            if who == "platform":
                assert result["status"] == 200 and result["flag"]["status"] == "closed"
            else:
                assert result["status"] == 404, result
                assert result["error"]["status"] == 404
        elif route == "feed":
            mentioned = [e for e in data["items"] if e.get("flag", {}).get("id") == flag["id"]]
            if who in ("other_agency", "other_platform"):
                assert mentioned == [], (who, mentioned)
            if who == "platform":
                assert [e["type"] for e in mentioned] == ["flag.created"], mentioned
        else:
            assert data["id"] == flag["id"]
    return failures


async def test_someone_elses_flag_looks_exactly_like_a_missing_one(world, client, cast):
    flag = await new_flag(client, cast)
    missing = str(uuid.uuid4())
    for who, method, path, body in [
        ("other_agency", "GET", "/v1/flags/{}", None),
        ("other_agency", "POST", "/v1/flags/{}/withdraw", {"reason": "x"}),
        ("other_agency", "POST", "/v1/flags/{}/info", {"note": "x"}),
        ("other_platform", "GET", "/v1/flags/{}", None),
        ("other_platform", "POST", "/v1/flags/{}/ack", None),
        ("other_platform", "POST", "/v1/flags/{}/request-info", {"question": "x"}),
        ("other_platform", "POST", "/v1/flags/{}/outcome", {"action": "no_violation"}),
    ]:
        if method == "GET":
            theirs = await client.get(path.format(flag["id"]), headers=cast[who].headers)
            absent = await client.get(path.format(missing), headers=cast[who].headers)
        else:
            theirs = await client.post(
                path.format(flag["id"]), json=body, headers=cast[who].headers
            )
            absent = await client.post(path.format(missing), json=body, headers=cast[who].headers)
        a, b = assert_problem(theirs, 404), assert_problem(absent, 404)
        assert {k: v for k, v in a.items() if k != "request_id"} == {
            k: v for k, v in b.items() if k != "request_id"
        }
    # An observer without audit:read lacks the scope: 403, as the route demands.
    stats_only = await world.credentials("observer", scopes=["stats:read"])
    hdrs = {"Authorization": f"Bearer {await world.token(stats_only)}"}
    assert_problem(await client.get(f"/v1/flags/{flag['id']}", headers=hdrs), 403)


async def test_list_shows_only_own_flags(client, cast):
    mine, theirs = set(), set()
    for _ in range(3):
        mine.add((await new_flag(client, cast))["id"])
        resp = await client.post(
            "/v1/flags", json=flag_body("youtube"), headers=cast["other_agency"].headers
        )
        theirs.add(resp.json()["id"])
    for who, expect in (("owner", mine), ("other_agency", theirs)):
        seen: list[str] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": 2}
            if cursor:
                params["cursor"] = cursor
            page = (await client.get("/v1/flags", params=params, headers=cast[who].headers)).json()
            seen += [f["id"] for f in page["items"]]
            assert all(f["agency"]["id"] == cast[who].org_id for f in page["items"])
            cursor = page["next_cursor"]
            if not cursor:
                break
        assert sorted(seen) == sorted(expect)
    # Filtering by another agency's platform does not widen the view.
    page = await client.get(
        "/v1/flags", params={"platform": "youtube"}, headers=cast["owner"].headers
    )
    assert page.json()["items"] == []


async def read_all(client, who: Party) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        params = {"cursor": cursor} if cursor else {}
        page = (await client.get("/v1/feed", params=params, headers=who.headers)).json()
        if not page["items"]:
            return items
        items += page["items"]
        cursor = page["next_cursor"]


async def test_feeds_carry_only_the_callers_flags(client, cast):
    owner, other = cast["owner"], cast["other_agency"]
    twitter, youtube = cast["platform"], cast["other_platform"]
    shared = "both_flag_this"
    for agency in (owner, other):
        for platform in ("twitter", "youtube"):
            for handle in (None, shared):
                resp = await client.post(
                    "/v1/flags", json=flag_body(platform, handle=handle), headers=agency.headers
                )
                assert resp.status_code == 201, resp.text
    # Each platform acts on what it sees, producing agency-bound events for both agencies.
    for platform in (twitter, youtube):
        for event in await read_all(client, platform):
            flag = event["flag"]
            if event["type"] != "flag.created":
                continue
            if flag["account"]["handle"] == shared:
                await client.post(
                    f"/v1/flags/{flag['id']}/request-info",
                    json={"question": "?"},
                    headers=platform.headers,
                )
            else:
                await client.post(f"/v1/flags/{flag['id']}/ack", headers=platform.headers)

    for platform, slug in ((twitter, "twitter"), (youtube, "youtube")):
        events = await read_all(client, platform)
        assert events, slug
        assert {e["flag"]["platform"] for e in events} == {slug}
        assert len([e for e in events if e["type"] == "flag.created"]) == 4
        assert len([e for e in events if e["type"] == "flag.corroborated"]) == 1
    for agency in (owner, other):
        events = await read_all(client, agency)
        assert len(events) == 4, events
        assert {e["flag"]["agency"]["id"] for e in events} == {agency.org_id}
        assert {e["type"] for e in events} == {"flag.acknowledged", "flag.info_requested"}


def hold_body(handle: str) -> dict[str, Any]:
    return {
        "platform": "twitter",
        "account": {"handle": handle},
        "reason": "Active investigation.",
        "expires_at": (datetime.now(UTC) + timedelta(days=7)).isoformat(),
    }


async def held_flag(client, cast) -> tuple[dict[str, Any], dict[str, Any]]:
    """A flag of the owner held by the other agency's hold: (flag, hold)."""
    body = flag_body("twitter")
    hold = await client.post(
        "/v1/holds", json=hold_body(body["account"]["handle"]), headers=cast["other_agency"].headers
    )
    assert hold.status_code == 201, hold.text
    flag = await client.post("/v1/flags", json=body, headers=cast["owner"].headers)
    assert flag.json()["status"] == "held", flag.text
    return flag.json(), hold.json()


async def test_platform_history_of_a_released_flag_does_not_reveal_the_hold(client, cast):
    flag, hold = await held_flag(client, cast)
    resp = await client.delete(f"/v1/holds/{hold['id']}", headers=cast["other_agency"].headers)
    assert resp.status_code == 200
    seen = await client.get(f"/v1/flags/{flag['id']}", headers=cast["platform"].headers)
    assert seen.status_code == 200
    assert "held" not in str(seen.json()["events"]), seen.json()["events"]


async def test_flag_withdrawn_while_held_stays_invisible_to_the_platform(client, cast):
    flag, _ = await held_flag(client, cast)
    resp = await client.post(
        f"/v1/flags/{flag['id']}/withdraw", json={"reason": "x"}, headers=cast["owner"].headers
    )
    assert resp.json()["status"] == "withdrawn"
    platform = cast["platform"].headers
    assert_problem(await client.get(f"/v1/flags/{flag['id']}", headers=platform), 404)
    assert_problem(await client.post(f"/v1/flags/{flag['id']}/ack", headers=platform), 404)
