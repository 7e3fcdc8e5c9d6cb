"""Agency and platform health: what each sent and how it ended; each platform's backlog."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from tests.stats.conftest import close, submit

RFC3339_MICRO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")


async def test_agencies_show_flags_sent_and_the_share_actioned(client, cast):
    for action in ("account_suspended", "content_removed", "no_violation", "account_not_found"):
        flag = await submit(client, cast["id"], "twitter")
        await close(client, cast["twitter"], flag["id"], action)
    await submit(client, cast["id"], "youtube")  # live
    gone = await submit(client, cast["id"], "youtube")
    await client.post(
        f"/v1/flags/{gone['id']}/withdraw", json={"reason": "x"}, headers=cast["id"].headers
    )
    resp = await client.get("/v1/stats/agencies", headers=cast["observer"].headers)
    assert resp.status_code == 200, resp.text
    items = {i["agency"]["id"]: i for i in resp.json()["items"]}
    mine = items[cast["id"].org_id]
    assert mine["country"] == "ID"
    assert {k: mine[k] for k in ("flags_sent", "live", "closed", "withdrawn", "actioned")} == {
        "flags_sent": 6,
        "live": 1,
        "closed": 4,
        "withdrawn": 1,
        "actioned": 2,
    }
    assert mine["action_share"] == 0.5
    # An agency with nothing closed yet has no share rather than 0%.
    idle = items[cast["au"].org_id]
    assert (idle["flags_sent"], idle["action_share"]) == (0, None)


async def test_platforms_show_feed_poll_and_backlog(app, client, cast):
    # twitter: one delivered and acknowledged, one delivered and asked, one undelivered.
    acked = await submit(client, cast["id"], "twitter")
    asked = await submit(client, cast["id"], "twitter")
    resp = await client.get("/v1/feed", headers=cast["twitter"].headers)  # hands over both
    assert resp.status_code == 200, resp.text
    await client.post(f"/v1/flags/{acked['id']}/ack", headers=cast["twitter"].headers)
    await client.post(
        f"/v1/flags/{asked['id']}/request-info",
        json={"question": "?"},
        headers=cast["twitter"].headers,
    )
    await submit(client, cast["au"], "twitter")
    done = await submit(client, cast["au"], "twitter")
    await close(client, cast["twitter"], done["id"])
    # A held flag is not the platform's backlog: it has not reached the platform.
    hold = {
        "platform": "youtube",
        "account": {"handle": "under_watch"},
        "reason": "investigation",
        "expires_at": (datetime.now(UTC) + timedelta(days=30)).isoformat(),
    }
    assert (
        await client.post("/v1/holds", json=hold, headers=cast["au"].headers)
    ).status_code == 201
    held = await submit(client, cast["id"], "youtube", account={"handle": "under_watch"})
    assert held["status"] == "held"

    resp = await client.get("/v1/stats/platforms", headers=cast["observer"].headers)
    assert resp.status_code == 200, resp.text
    items = {i["platform"]: i for i in resp.json()["items"]}
    twitter, youtube = items["twitter"], items["youtube"]
    assert twitter["organization"]["id"] == cast["twitter"].org_id
    assert twitter["last_feed_poll_at"] is not None
    # The one timestamp format of the API: microseconds and Z (app/kit/clock.rfc3339).
    assert RFC3339_MICRO.match(twitter["last_feed_poll_at"]), twitter["last_feed_poll_at"]
    assert RFC3339_MICRO.match(resp.json()["as_of"]), resp.json()["as_of"]
    assert youtube["last_feed_poll_at"] is None
    assert {
        k: twitter[k]
        for k in ("undelivered", "unacknowledged", "unanswered", "awaiting_agency", "overdue")
    } == {
        "undelivered": 1,
        "unacknowledged": 1,
        "unanswered": 2,
        "awaiting_agency": 1,
        "overdue": 0,
    }
    assert twitter["oldest_unanswered_at"] is not None
    assert (youtube["undelivered"], youtube["unanswered"], youtube["oldest_unanswered_at"]) == (
        0,
        0,
        None,
    )
