"""Contest and reconsideration through the API: the whole round, the window, once only,
wrong states, tenancy, the new deadline, feed events, the webhook outbox and the audit."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from app.retention import service as retention
from tests.conftest import Party, assert_problem, flag_body, party

EVIDENCE = [{"url": "https://evidence.example.gov/case/7/new-capture.png"}]
CONTEST = {"reason": "The account posted new recruitment videos since.", "evidence": EVIDENCE}


@pytest.fixture
async def cast(world) -> dict[str, Party]:
    observer = await world.credentials("observer", scopes=["stats:read", "audit:read"])
    return {
        "agency": await party(world, "agency", country="ID"),
        "other_agency": await party(world, "agency", country="MY"),
        "platform": await party(world, "platform", platform="twitter"),
        "other_platform": await party(world, "platform", platform="youtube"),
        "observer": Party(observer, {"Authorization": f"Bearer {await world.token(observer)}"}),
        "operator": Party(await world.operator(), await world.admin_headers()),
    }


async def closed_flag(client, cast, action: str = "no_violation", **body: Any) -> dict[str, Any]:
    """A flag of the agency that the platform closed with `action`."""
    made = await client.post(
        "/v1/flags", json=flag_body("twitter", **body), headers=cast["agency"].headers
    )
    assert made.status_code == 201, made.text
    closed = await client.post(
        f"/v1/flags/{made.json()['id']}/outcome",
        json={"action": action, "note": "Nothing against our rules."},
        headers=cast["platform"].headers,
    )
    assert closed.status_code == 200, closed.text
    return dict(closed.json())


async def contest(client, cast, flag_id: str, body: dict[str, Any] = CONTEST, **kw: Any):
    return await client.post(
        f"/v1/flags/{flag_id}/contest", json=body, headers=cast["agency"].headers, **kw
    )


async def reconsider(client, cast, flag_id: str, action: str, reconsidered: bool = True):
    return await client.post(
        f"/v1/flags/{flag_id}/outcome",
        json={"action": action, "note": "On a second look", "reconsidered": reconsidered},
        headers=cast["platform"].headers,
    )


async def feed(client, party_: Party) -> list[dict[str, Any]]:
    resp = await client.get("/v1/feed?limit=1000", headers=party_.headers)
    assert resp.status_code == 200, resp.text
    return list(resp.json()["items"])


async def backdate_outcome(app, flag_id: str, days: float) -> None:
    async with app.state.engine.begin() as conn:
        await conn.execute(
            text("UPDATE flag SET closed_at = now() - make_interval(secs => :s) WHERE id = :id"),
            {"s": days * 86400, "id": flag_id},
        )


async def test_the_whole_round_contest_then_overturn(app, client, cast):
    flag = await closed_flag(client, cast)
    assert flag["contest"] is None

    resp = await contest(client, cast, flag["id"])
    assert resp.status_code == 200, resp.text
    contested = resp.json()
    assert contested["status"] == "reconsideration"
    assert contested["outcome"]["action"] == "no_violation"
    round_ = contested["contest"]
    assert round_["reason"] == CONTEST["reason"]
    assert [e["url"] for e in round_["evidence"]] == [EVIDENCE[0]["url"]]
    assert round_["first_outcome"]["action"] == "no_violation"
    assert round_["first_outcome"]["decided_at"] == flag["closed_at"]
    assert round_["reconsidered_outcome"] is None and round_["overturned"] is None

    # The platform hears of it on its feed, with the flag as it now is.
    events = [e for e in await feed(client, cast["platform"]) if e["type"] == "flag.contested"]
    assert len(events) == 1
    assert events[0]["flag"]["id"] == flag["id"]
    assert events[0]["flag"]["status"] == "reconsideration"
    assert events[0]["data"] == {"first_outcome": "no_violation", "due_at": contested["due_at"]}

    resp = await reconsider(client, cast, flag["id"], "account_suspended")
    assert resp.status_code == 200, resp.text
    final = resp.json()
    assert final["status"] == "closed"
    # `outcome` stays the first decision; the final one is in the contest round.
    assert final["outcome"]["action"] == "no_violation"
    assert final["contest"]["reconsidered_outcome"]["action"] == "account_suspended"
    assert final["contest"]["reconsidered_outcome"]["note"] == "On a second look"
    assert final["contest"]["overturned"] is True

    # The agency sees the platform's final reasoning in its feed and in the history.
    closings = [e for e in await feed(client, cast["agency"]) if e["type"] == "flag.closed"]
    assert [e.get("data") for e in closings] == [None, {"reconsidered": True, "overturned": True}]
    detail = (await client.get(f"/v1/flags/{flag['id']}", headers=cast["agency"].headers)).json()
    steps = [(e["type"], e["data"].get("action")) for e in detail["events"]]
    assert [s for s in steps if s[0] != "delivered"] == [
        ("submitted", None),
        ("outcome", "no_violation"),
        ("contested", None),
        ("outcome", "account_suspended"),
    ]
    assert detail["events"][-1]["data"]["reconsidered"] is True

    # Both steps are audited, the reason only by its hash.
    audit = await client.get(
        "/v1/audit", params={"object_id": flag["id"]}, headers=cast["observer"].headers
    )
    entries = {e["action"]: e["data"] for e in audit.json()["items"]}
    assert entries["flag.contested"]["from"] == "closed"
    assert entries["flag.contested"]["to"] == "reconsideration"
    assert entries["flag.contested"]["first_outcome"] == "no_violation"
    assert "reason" not in entries["flag.contested"]
    assert CONTEST["reason"] not in audit.text
    outcomes = [e["data"] for e in audit.json()["items"] if e["action"] == "flag.outcome_recorded"]
    assert outcomes[-1]["reconsidered"] is True and outcomes[-1]["overturned"] is True


async def test_an_upheld_outcome_is_not_overturned(client, cast):
    flag = await closed_flag(client, cast, "insufficient_information")
    assert (await contest(client, cast, flag["id"])).status_code == 200
    final = (await reconsider(client, cast, flag["id"], "no_violation")).json()
    assert final["contest"]["overturned"] is False


async def test_the_new_deadline_comes_from_the_deadline_policy(client, cast, world):
    admin = await world.admin_headers()
    put = await client.put(
        "/v1/admin/deadline-policies/ID/referral/standard", json={"seconds": 7200}, headers=admin
    )
    assert put.status_code == 200, put.text
    flag = await closed_flag(client, cast)
    contested = (await contest(client, cast, flag["id"])).json()
    due = datetime.fromisoformat(contested["due_at"])
    at = datetime.fromisoformat(contested["contest"]["contested_at"])
    assert due - at == timedelta(seconds=7200)


async def test_a_flag_is_contested_once_only(client, cast):
    flag = await closed_flag(client, cast)
    assert (await contest(client, cast, flag["id"])).status_code == 200
    again = assert_problem(await contest(client, cast, flag["id"]), 409)
    assert again["current_status"] == "reconsideration"
    assert (await reconsider(client, cast, flag["id"], "no_violation")).status_code == 200
    after = assert_problem(await contest(client, cast, flag["id"]), 409)
    assert after["current_status"] == "closed"
    assert "once" in after["detail"]


async def test_only_not_actioned_outcomes_may_be_contested(client, cast):
    for action in ("account_suspended", "content_removed", "account_restricted"):
        flag = await closed_flag(client, cast, action)
        problem = assert_problem(await contest(client, cast, flag["id"]), 409)
        assert problem["current_action"] == action
    for action in ("no_violation", "insufficient_information", "account_not_found"):
        flag = await closed_flag(client, cast, action)
        assert (await contest(client, cast, flag["id"])).status_code == 200, action


async def test_the_window_closes_after_the_configured_days(app, client, cast):
    app.state.settings = app.state.settings.model_copy(update={"contest_window_days": 10})
    late = await closed_flag(client, cast)
    await backdate_outcome(app, late["id"], 10.01)
    problem = assert_problem(await contest(client, cast, late["id"]), 409)
    assert problem["current_status"] == "closed"
    assert "window" in problem["detail"] and "window_ended_at" in problem
    in_time = await closed_flag(client, cast)
    await backdate_outcome(app, in_time["id"], 9.99)
    assert (await contest(client, cast, in_time["id"])).status_code == 200


async def test_wrong_states_are_409_naming_the_status(client, cast):
    made = await client.post("/v1/flags", json=flag_body("twitter"), headers=cast["agency"].headers)
    fid = made.json()["id"]
    assert assert_problem(await contest(client, cast, fid), 409)["current_status"] == "open"
    await client.post(f"/v1/flags/{fid}/ack", headers=cast["platform"].headers)
    assert assert_problem(await contest(client, cast, fid), 409)["current_status"] == (
        "acknowledged"
    )
    await client.post(
        f"/v1/flags/{fid}/withdraw", json={"reason": "x"}, headers=cast["agency"].headers
    )
    assert assert_problem(await contest(client, cast, fid), 409)["current_status"] == "withdrawn"


async def test_reconsidered_answers_fit_only_a_flag_in_reconsideration(client, cast):
    flag = await closed_flag(client, cast)
    # A closed, uncontested flag takes no reconsidered outcome, not even the same one.
    problem = assert_problem(await reconsider(client, cast, flag["id"], "no_violation"), 409)
    assert problem["current_status"] == "closed"
    open_flag = await client.post(
        "/v1/flags", json=flag_body("twitter"), headers=cast["agency"].headers
    )
    problem = assert_problem(
        await reconsider(client, cast, open_flag.json()["id"], "no_violation"), 409
    )
    assert problem["current_status"] == "open"

    assert (await contest(client, cast, flag["id"])).status_code == 200
    # In reconsideration, an ordinary outcome (the first one repeated included) is refused.
    for action in ("no_violation", "account_suspended"):
        resp = await reconsider(client, cast, flag["id"], action, reconsidered=False)
        assert assert_problem(resp, 409)["current_status"] == "reconsideration"
    # Acknowledging again changes nothing.
    ack = await client.post(f"/v1/flags/{flag['id']}/ack", headers=cast["platform"].headers)
    assert ack.status_code == 200 and ack.json()["status"] == "reconsideration"

    done = await reconsider(client, cast, flag["id"], "content_removed")
    assert done.status_code == 200
    # The same final outcome again is a 200 that changes nothing; another is a 409.
    same = await reconsider(client, cast, flag["id"], "content_removed")
    assert same.status_code == 200 and same.json() == done.json()
    other = assert_problem(await reconsider(client, cast, flag["id"], "no_violation"), 409)
    assert other["current_action"] == "content_removed"
    first_again = await reconsider(client, cast, flag["id"], "no_violation", reconsidered=False)
    assert assert_problem(first_again, 409)["current_status"] == "closed"


async def test_the_outcome_batch_takes_reconsidered_answers(client, cast):
    flag = await closed_flag(client, cast)
    assert (await contest(client, cast, flag["id"])).status_code == 200
    items = [
        {"flag_id": flag["id"], "type": "outcome", "action": "no_violation"},
        {"flag_id": flag["id"], "type": "outcome", "action": "account_suspended",
         "reconsidered": True},
        {"flag_id": flag["id"], "type": "outcome", "action": "account_suspended",
         "reconsidered": True},
    ]  # fmt: skip
    resp = await client.post(
        "/v1/outcomes/batch", json={"items": items}, headers=cast["platform"].headers
    )
    results = resp.json()["results"]
    assert [r["status"] for r in results] == [409, 200, 200]
    assert results[1]["flag"]["contest"]["overturned"] is True
    assert results[2]["flag"] == results[1]["flag"]


async def test_who_may_contest(client, cast):
    flag = await closed_flag(client, cast)
    for who, status in [
        ("other_agency", 404),
        ("platform", 403),
        ("other_platform", 403),
        ("observer", 403),
        ("operator", 403),
    ]:
        resp = await client.post(
            f"/v1/flags/{flag['id']}/contest", json=CONTEST, headers=cast[who].headers
        )
        assert_problem(resp, status)
    assert_problem(await client.post(f"/v1/flags/{flag['id']}/contest", json=CONTEST), 401)
    # Someone else's flag looks exactly like a missing one.
    theirs = await client.post(
        f"/v1/flags/{flag['id']}/contest", json=CONTEST, headers=cast["other_agency"].headers
    )
    missing = await contest(client, cast, str(uuid.uuid4()))
    assert theirs.json()["detail"] == assert_problem(missing, 404)["detail"]
    state = await client.get(f"/v1/flags/{flag['id']}", headers=cast["agency"].headers)
    assert state.json()["status"] == "closed"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"evidence": EVIDENCE}, "reason"),
        ({"reason": "", "evidence": EVIDENCE}, "reason"),
        ({"reason": "r"}, "evidence"),
        ({"reason": "r", "evidence": []}, "evidence"),
        ({"reason": "r", "evidence": [{"url": ""}]}, "evidence"),
        ({**CONTEST, "extra": 1}, "extra"),
    ],
)
async def test_invalid_contests_are_422_naming_the_field(client, cast, body, field):
    flag = await closed_flag(client, cast)
    problem = assert_problem(await contest(client, cast, flag["id"], body), 422)
    assert any(field in e["field"] for e in problem["errors"]), problem


async def test_an_idempotency_key_replays_the_contest(client, cast):
    flag = await closed_flag(client, cast)
    key = {"Idempotency-Key": f"contest-{uuid.uuid4()}"}
    headers = {**cast["agency"].headers, **key}
    first = await client.post(f"/v1/flags/{flag['id']}/contest", json=CONTEST, headers=headers)
    again = await client.post(f"/v1/flags/{flag['id']}/contest", json=CONTEST, headers=headers)
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    changed = await client.post(
        f"/v1/flags/{flag['id']}/contest", json={**CONTEST, "reason": "other"}, headers=headers
    )
    assert_problem(changed, 422)
    platform_feed = await feed(client, cast["platform"])
    assert [e["type"] for e in platform_feed].count("flag.contested") == 1


async def test_a_contest_waits_for_a_newer_live_flag_on_the_account(client, cast):
    flag = await closed_flag(client, cast, account={"handle": "contested_acct"})
    newer = await client.post(
        "/v1/flags",
        json=flag_body("twitter", account={"handle": "contested_acct"}),
        headers=cast["agency"].headers,
    )
    assert newer.status_code == 201, newer.text
    problem = assert_problem(await contest(client, cast, flag["id"]), 409)
    assert problem["current_status"] == "closed"


async def test_the_contest_reaches_the_platforms_webhook(app, client, cast):
    app.state.settings = app.state.settings.model_copy(update={"webhook_allow_private": True})
    made = await client.put(
        "/v1/webhook", json={"url": "http://127.0.0.1:9/hook"}, headers=cast["platform"].headers
    )
    assert made.status_code == 200, made.text
    flag = await closed_flag(client, cast)
    assert (await contest(client, cast, flag["id"])).status_code == 200
    async with app.state.engine.connect() as conn:
        types = (
            await conn.execute(
                text(
                    "SELECT e.type FROM webhook_delivery d JOIN feed_event e ON e.id = d.event_id "
                    "WHERE d.org_id = :org AND e.flag_id = :flag ORDER BY d.id"
                ),
                {"org": cast["platform"].org_id, "flag": flag["id"]},
            )
        ).scalars()
        assert list(types) == ["flag.created", "flag.contested"]


async def test_contested_at_is_now(client, cast):
    flag = await closed_flag(client, cast)
    before = datetime.now(UTC)
    contested = (await contest(client, cast, flag["id"])).json()
    at = datetime.fromisoformat(contested["contest"]["contested_at"])
    assert before - timedelta(minutes=1) < at < datetime.now(UTC) + timedelta(minutes=1)


async def test_retention_removes_a_contests_texts_and_keeps_its_outcomes(app, client, cast):
    reason = f"contest reason {uuid.uuid4().hex}"
    url = f"https://evidence.example.gov/{uuid.uuid4().hex}/capture.png"
    flag = await closed_flag(client, cast)
    body = {"reason": reason, "evidence": [{"url": url}]}
    assert (await contest(client, cast, flag["id"], body)).status_code == 200
    note = f"final note {uuid.uuid4().hex}"
    resp = await client.post(
        f"/v1/flags/{flag['id']}/outcome",
        json={"action": "content_removed", "note": note, "reconsidered": True},
        headers=cast["platform"].headers,
    )
    assert resp.status_code == 200, resp.text
    later = datetime.now(UTC) + timedelta(days=400)
    done = await retention.run(
        sessionmaker=app.state.sessionmaker, days=365, feed_days=90, now=later
    )
    assert done is not None and done.counts["flags_redacted"] == 1, done
    async with app.state.engine.connect() as conn:
        for table in ("flag", "flag_event", "feed_event"):
            rows = await conn.execute(text(f"SELECT t::text FROM {table} t"))
            for (row,) in rows:
                assert reason not in row and url not in row and note not in row, table
    after = (await client.get(f"/v1/flags/{flag['id']}", headers=cast["agency"].headers)).json()
    assert after["contest"]["reason"] is None and after["contest"]["evidence"] == []
    assert after["contest"]["reconsidered_outcome"]["action"] == "content_removed"
    assert after["contest"]["overturned"] is True


async def test_a_reconsidered_statement_is_the_second_decision(client, cast):
    """Both decisions keep their statements; the flag and the filed statement show the
    final one, and the statistics grouped by a statement's ground give no contest counts
    (contests are counted by flag, not by statement)."""
    flag = await closed_flag(client, cast)
    first = await client.get(f"/v1/flags/{flag['id']}/statement", headers=cast["agency"].headers)
    assert first.status_code == 404  # the first outcome came without a statement
    assert (await contest(client, cast, flag["id"])).status_code == 200
    statement = {
        "ground": "illegal_content",
        "legal_provision": "Law No. 5 of 2018, Art. 13A",
        "automated_detection": False,
        "automated_decision": "not_automated",
        "territorial_scope": {"type": "countries", "countries": ["id"]},
    }
    final = await client.post(
        f"/v1/flags/{flag['id']}/outcome",
        json={
            "action": "account_withheld_in_country",
            "reconsidered": True,
            "statement": statement,
        },
        headers=cast["platform"].headers,
    )
    assert final.status_code == 200, final.text
    shown = final.json()
    assert shown["outcome"]["action"] == "no_violation"
    assert shown["contest"]["reconsidered_outcome"]["action"] == "account_withheld_in_country"
    assert shown["contest"]["overturned"] is True
    assert shown["statement"]["decision"] == 2
    assert shown["statement"]["territorial_scope"] == {"type": "countries", "countries": ["ID"]}
    filed = await client.get(f"/v1/flags/{flag['id']}/statement", headers=cast["agency"].headers)
    assert filed.status_code == 200, filed.text
    assert filed.json()["statement"]["decision"] == 2

    by_ground = await client.get(
        "/v1/stats/outcomes?group_by=ground", headers=cast["observer"].headers
    )
    assert by_ground.status_code == 200, by_ground.text
    body = by_ground.json()
    assert body["contested"] is None and body["overturned"] is None
    assert [(i["ground"], i["contested"]) for i in body["items"]] == [("illegal_content", None)]
    by_action = await client.get(
        "/v1/stats/outcomes?group_by=action", headers=cast["observer"].headers
    )
    assert by_action.json()["contested"] == 1
    assert by_action.json()["overturned"] == 1
