"""The flag state machine through the API, checked against app.flags.state.TRANSITIONS.

Every status a flag can be in is reached through the routes (held through a hold of another
agency), then every action is attempted from it on a fresh flag: pairs in the table succeed
with the table's new status, every other pair is a 409 naming the current status.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from app.errors import Conflict
from app.flags.state import LIVE, TRANSITIONS, Action, Status, is_noop, next_status
from app.vocabulary import NOT_ACTIONED
from tests.conftest import assert_problem, flag_body, party


@dataclass(frozen=True)
class Route:
    """How an action is performed over HTTP: by whom, on which path, with which body."""

    actor: str  # "agency" or "platform"
    path: str
    body: dict[str, Any] | None


ROUTES: dict[Action, Route] = {
    Action.ACKNOWLEDGE: Route("platform", "ack", None),
    Action.REQUEST_INFO: Route("platform", "request-info", {"question": "Which video?"}),
    Action.PROVIDE_INFO: Route("agency", "info", {"note": "The one posted on 6 November."}),
    Action.RECORD_OUTCOME: Route("platform", "outcome", {"action": "account_suspended"}),
    Action.WITHDRAW: Route("agency", "withdraw", {"reason": "filed in error"}),
    Action.CONTEST: Route(
        "agency",
        "contest",
        {"reason": "New posts.", "evidence": [{"url": "https://evidence.example.gov/2.png"}]},
    ),
}
# The final answer to a contest (app/flags/contest.py): only it moves a flag out of
# reconsideration, and only such a flag takes it.
RECONSIDERED = {"action": "account_suspended", "reconsidered": True}
# RELEASE has no flag route: it happens when a hold is released (tested below).
ROUTED_ACTIONS = [a for a in Action if a is not Action.RELEASE]


def hold_body(handle: str) -> dict[str, Any]:
    return {
        "platform": "twitter",
        "account": {"handle": handle},
        "reason": "Active investigation.",
        "expires_at": (datetime.now(UTC) + timedelta(days=7)).isoformat(),
    }


@pytest.fixture
async def cast(world):
    return {
        "agency": await party(world, "agency", country="ID"),
        "holder": await party(world, "agency", country="AU"),
        "platform": await party(world, "platform", platform="twitter"),
    }


async def act(client, cast, flag_id: str, action: Action, body: dict[str, Any] | None = None):
    route = ROUTES[action]
    who = cast[route.actor]
    payload = route.body if body is None else body
    return await client.post(f"/v1/flags/{flag_id}/{route.path}", json=payload, headers=who.headers)


async def flag_in(
    client, cast, status: Status, outcome: str = "account_suspended"
) -> dict[str, Any]:
    """A fresh flag driven to status through the API (closed with `outcome`; a flag in
    reconsideration was closed with no_violation and contested)."""
    body = flag_body("twitter")
    if status is Status.HELD:
        handle = body["account"]["handle"]
        resp = await client.post(
            "/v1/holds", json=hold_body(handle), headers=cast["holder"].headers
        )
        assert resp.status_code == 201, resp.text
    resp = await client.post("/v1/flags", json=body, headers=cast["agency"].headers)
    assert resp.status_code == 201, resp.text
    flag = resp.json()
    path = {
        Status.HELD: [],
        Status.OPEN: [],
        Status.ACKNOWLEDGED: [Action.ACKNOWLEDGE],
        Status.INFO_REQUESTED: [Action.REQUEST_INFO],
        Status.CLOSED: [Action.RECORD_OUTCOME],
        Status.WITHDRAWN: [Action.WITHDRAW],
        Status.RECONSIDERATION: [Action.RECORD_OUTCOME, Action.CONTEST],
    }[status]
    if status is Status.RECONSIDERATION:
        outcome = "no_violation"
    for step in path:
        body = {"action": outcome} if step is Action.RECORD_OUTCOME else None
        resp = await act(client, cast, flag["id"], step, body)
        assert resp.status_code == 200, resp.text
        flag = resp.json()
    assert flag["status"] == status.value
    return flag


async def status_of(client, cast, flag_id: str) -> str:
    resp = await client.get(f"/v1/flags/{flag_id}", headers=cast["agency"].headers)
    assert resp.status_code == 200, resp.text
    return str(resp.json()["status"])


def test_table_covers_exactly_the_documented_lifecycle():
    # Live statuses before an outcome can always be withdrawn; a contested flag waits for
    # its final answer. Closed has no way out but a repeat ack and one contest.
    for status in LIVE - {Status.RECONSIDERATION}:
        assert TRANSITIONS[(status, Action.WITHDRAW)] is Status.WITHDRAWN
    assert {a for (s, a) in TRANSITIONS if s is Status.CLOSED} == {
        Action.ACKNOWLEDGE,
        Action.CONTEST,
    }
    assert {a for (s, a) in TRANSITIONS if s is Status.RECONSIDERATION} == {
        Action.ACKNOWLEDGE,
        Action.RECORD_OUTCOME,
    }
    assert not [k for k in TRANSITIONS if k[0] is Status.WITHDRAWN]
    assert {s for (s, a) in TRANSITIONS if a is Action.RELEASE} == {Status.HELD}


@pytest.mark.parametrize("status", list(Status))
@pytest.mark.parametrize("action", list(Action))
def test_next_status_agrees_with_the_table(status, action):
    if (status, action) in TRANSITIONS:
        assert next_status(status.value, action) is TRANSITIONS[(status, action)]
    else:
        with pytest.raises(Conflict) as exc:
            next_status(status.value, action)
        assert exc.value.status == 409
        assert exc.value.extra["current_status"] == status.value


def test_held_transitions_unit():
    assert next_status("held", Action.RELEASE) is Status.OPEN
    assert next_status("held", Action.WITHDRAW) is Status.WITHDRAWN
    for action in (Action.ACKNOWLEDGE, Action.REQUEST_INFO, Action.PROVIDE_INFO):
        with pytest.raises(Conflict):
            next_status("held", action)
    with pytest.raises(Conflict):
        next_status("held", Action.RECORD_OUTCOME)
    assert not is_noop("held", Action.ACKNOWLEDGE)


def expected(status: Status, action: Action) -> tuple[int, str | None]:
    """(HTTP status, new flag status) the API should give for action from status."""
    route = ROUTES[action]
    if status is Status.HELD and route.actor == "platform":
        # A held flag is invisible to its platform: not found, not a conflict.
        return 404, None
    if status is Status.CLOSED and action is Action.RECORD_OUTCOME:
        return 200, Status.CLOSED.value  # the same outcome again
    if (status, action) in TRANSITIONS:
        return 200, TRANSITIONS[(status, action)].value
    return 409, None


@pytest.mark.parametrize("status", list(Status), ids=lambda s: s.value)
async def test_every_action_from_every_status(client, cast, status):
    failures = []
    for action in ROUTED_ACTIONS:
        # A contest needs an outcome that may be contested; a contested flag's outcome
        # is its final answer.
        outcome = "no_violation" if action is Action.CONTEST else "account_suspended"
        flag = await flag_in(client, cast, status, outcome)
        body = (
            RECONSIDERED
            if status is Status.RECONSIDERATION and action is Action.RECORD_OUTCOME
            else None
        )
        resp = await act(client, cast, flag["id"], action, body)
        code, new = expected(status, action)
        if resp.status_code != code:
            failures.append(f"{status.value} --{action.value}--> {resp.status_code}: {resp.text}")
            continue
        if code == 200:
            assert resp.json()["status"] == new, (status, action, resp.json())
            assert await status_of(client, cast, flag["id"]) == new
        elif code == 409:
            problem = assert_problem(resp, 409)
            assert problem["current_status"] == status.value, problem
            assert status.value in problem["detail"], problem
            # A refusal changes nothing.
            assert await status_of(client, cast, flag["id"]) == status.value
        else:
            assert_problem(resp, code)
            assert await status_of(client, cast, flag["id"]) == status.value
    assert not failures, "\n".join(failures)


async def test_release_of_the_hold_opens_a_held_flag(client, cast):
    body = flag_body("twitter")
    hold = await client.post(
        "/v1/holds", json=hold_body(body["account"]["handle"]), headers=cast["holder"].headers
    )
    flag = (await client.post("/v1/flags", json=body, headers=cast["agency"].headers)).json()
    assert flag["status"] == "held"
    resp = await client.delete(f"/v1/holds/{hold.json()['id']}", headers=cast["holder"].headers)
    assert resp.status_code == 200, resp.text
    assert await status_of(client, cast, flag["id"]) == TRANSITIONS[(Status.HELD, Action.RELEASE)]


async def test_same_outcome_again_is_200_unchanged_and_another_is_409(client, cast):
    flag = await flag_in(client, cast, Status.CLOSED)
    again = await act(client, cast, flag["id"], Action.RECORD_OUTCOME)
    assert again.status_code == 200, again.text
    assert again.json() == flag
    other = await act(
        client, cast, flag["id"], Action.RECORD_OUTCOME, {"action": "no_violation", "note": "x"}
    )
    problem = assert_problem(other, 409)
    assert problem["current_status"] == "closed"
    assert problem["current_action"] == "account_suspended"
    got = (await client.get(f"/v1/flags/{flag['id']}", headers=cast["agency"].headers)).json()
    assert got["outcome"]["action"] == "account_suspended"
    assert [e["type"] for e in got["events"]].count("outcome") == 1


async def test_ack_is_idempotent(client, cast):
    flag = await flag_in(client, cast, Status.ACKNOWLEDGED)
    for _ in range(2):
        again = await act(client, cast, flag["id"], Action.ACKNOWLEDGE)
        assert again.status_code == 200, again.text
        assert again.json()["acknowledged_at"] == flag["acknowledged_at"]
        assert again.json()["status"] == "acknowledged"
    got = (await client.get(f"/v1/flags/{flag['id']}", headers=cast["agency"].headers)).json()
    assert [e["type"] for e in got["events"]].count("acknowledged") == 1
    feed = (await client.get("/v1/feed", headers=cast["agency"].headers)).json()["items"]
    assert [e["type"] for e in feed] == ["flag.acknowledged"]


async def test_outcome_and_question_without_ack_count_as_acknowledged(client, cast):
    closed = await flag_in(client, cast, Status.CLOSED)
    assert closed["acknowledged_at"] is not None
    asked = await flag_in(client, cast, Status.INFO_REQUESTED)
    assert asked["acknowledged_at"] is not None


async def test_deadline_clock_pauses_while_info_requested(app, client, cast):
    flag = await flag_in(client, cast, Status.INFO_REQUESTED)
    before = datetime.fromisoformat(flag["due_at"])

    async def wind_back(hours: int) -> None:
        # Pretend the question was asked `hours` ago rather than sleeping that long.
        async with app.state.engine.begin() as conn:
            await conn.execute(
                text(
                    "UPDATE flag SET info_requested_at = info_requested_at - make_interval("
                    "hours => :h) WHERE id = :id AND info_requested_at IS NOT NULL"
                ),
                {"h": hours, "id": flag["id"]},
            )

    await wind_back(2)
    answered = await act(client, cast, flag["id"], Action.PROVIDE_INFO)
    assert answered.status_code == 200, answered.text
    assert answered.json()["status"] == "acknowledged"
    shift = datetime.fromisoformat(answered.json()["due_at"]) - before
    assert timedelta(hours=2) <= shift < timedelta(hours=2, minutes=1), shift

    # A second pause adds to the first.
    assert (await act(client, cast, flag["id"], Action.REQUEST_INFO)).status_code == 200
    await wind_back(1)
    again = await act(client, cast, flag["id"], Action.PROVIDE_INFO)
    shift = datetime.fromisoformat(again.json()["due_at"]) - before
    assert timedelta(hours=3) <= shift < timedelta(hours=3, minutes=1), shift


async def test_answer_adds_evidence_and_returns_to_acknowledged(client, cast):
    flag = await flag_in(client, cast, Status.INFO_REQUESTED)
    extra = {"url": "https://evidence.example.gov/case/1/more.png"}
    resp = await act(
        client, cast, flag["id"], Action.PROVIDE_INFO, {"note": "see this", "evidence": [extra]}
    )
    assert resp.status_code == 200, resp.text
    assert len(resp.json()["evidence"]) == len(flag["evidence"]) + 1


# Random walks: the API and the table agree on every step.
STEPS = [
    ("ack", Action.ACKNOWLEDGE, None),
    ("ask", Action.REQUEST_INFO, None),
    ("answer", Action.PROVIDE_INFO, None),
    ("suspend", Action.RECORD_OUTCOME, {"action": "account_suspended"}),
    ("no_violation", Action.RECORD_OUTCOME, {"action": "no_violation"}),
    ("withdraw", Action.WITHDRAW, None),
    ("contest", Action.CONTEST, None),
    ("reconsider", Action.RECORD_OUTCOME, RECONSIDERED),
]


@dataclass
class Walked:
    """What the walk knows of its flag: status, first and final outcome, contested."""

    status: Status = Status.OPEN
    outcome: str | None = None
    final: str | None = None
    contested: bool = False

    def expect(self, action: Action, body: dict[str, Any] | None) -> tuple[int, Status]:
        """The answer the rules give to this step: (HTTP status, new status)."""
        status = self.status
        if action is Action.CONTEST:
            ok = status is Status.CLOSED and not self.contested and self.outcome in NOT_ACTIONED
            return (200, Status.RECONSIDERATION) if ok else (409, status)
        if action is Action.RECORD_OUTCOME:
            assert body is not None
            if body.get("reconsidered"):
                if status is Status.RECONSIDERATION:
                    return 200, Status.CLOSED
                return (200, status) if self.final == body["action"] else (409, status)
            if status is Status.RECONSIDERATION or self.final is not None:
                return 409, status
            if status is Status.CLOSED:
                return (200, status) if body["action"] == self.outcome else (409, status)
        if (status, action) in TRANSITIONS:
            return 200, TRANSITIONS[(status, action)]
        return 409, status

    def step(self, action: Action, body: dict[str, Any] | None, new: Status) -> None:
        """Remember what a successful step did."""
        if action is Action.CONTEST:
            self.contested = True
        elif action is Action.RECORD_OUTCOME and self.status is not Status.CLOSED:
            assert body is not None
            if self.status is Status.RECONSIDERATION:
                self.final = body["action"]
            else:
                self.outcome = body["action"]
        self.status = new


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
    database=None,
)
@given(walk=st.lists(st.sampled_from(STEPS), min_size=1, max_size=6))
async def test_random_walks_agree_with_the_table(client, cast, walk):
    flag = (
        await client.post("/v1/flags", json=flag_body("twitter"), headers=cast["agency"].headers)
    ).json()
    known = Walked()
    for name, action, body in walk:
        resp = await act(client, cast, flag["id"], action, body)
        want, new = known.expect(action, body)
        assert resp.status_code == want, (walk, name, known, resp.text)
        if want == 409:
            assert resp.json()["current_status"] == known.status.value
        else:
            assert resp.json()["status"] == new.value
            known.step(action, body, new)
    assert await status_of(client, cast, flag["id"]) == known.status.value


async def test_racing_transitions_are_serialised_by_the_row_lock(client, cast):
    # Two different outcomes at once: one wins, the other sees the closed flag.
    flag = await flag_in(client, cast, Status.OPEN)
    a, b = await asyncio.gather(
        act(client, cast, flag["id"], Action.RECORD_OUTCOME, {"action": "account_suspended"}),
        act(client, cast, flag["id"], Action.RECORD_OUTCOME, {"action": "no_violation"}),
    )
    assert sorted([a.status_code, b.status_code]) == [200, 409], (a.text, b.text)
    winner = a if a.status_code == 200 else b
    got = (await client.get(f"/v1/flags/{flag['id']}", headers=cast["agency"].headers)).json()
    assert got["outcome"] == winner.json()["outcome"]
    assert [e["type"] for e in got["events"]].count("outcome") == 1

    # Withdraw against outcome: exactly one of them happens.
    flag = await flag_in(client, cast, Status.ACKNOWLEDGED)
    w, o = await asyncio.gather(
        act(client, cast, flag["id"], Action.WITHDRAW),
        act(client, cast, flag["id"], Action.RECORD_OUTCOME),
    )
    assert sorted([w.status_code, o.status_code]) == [200, 409], (w.text, o.text)
    final = await status_of(client, cast, flag["id"])
    assert final == ("withdrawn" if w.status_code == 200 else "closed")

    # Many acks at once: one acknowledgement.
    flag = await flag_in(client, cast, Status.OPEN)
    acks = await asyncio.gather(
        *(act(client, cast, flag["id"], Action.ACKNOWLEDGE) for _ in range(5))
    )
    assert {r.status_code for r in acks} == {200}
    assert len({r.json()["acknowledged_at"] for r in acks}) == 1
    got = (await client.get(f"/v1/flags/{flag['id']}", headers=cast["agency"].headers)).json()
    assert [e["type"] for e in got["events"]].count("acknowledged") == 1


async def test_closing_during_a_question_settles_the_paused_clock(app, world, client):
    """An outcome (or withdrawal) while info_requested moves due_at by the time paused."""
    from datetime import datetime

    from sqlalchemy import text

    from tests.conftest import flag_body, party

    agency = await party(world, "agency")
    platform = await party(world, "platform", platform="twitter")
    for finish in ("outcome", "withdraw"):
        flag = (
            await client.post("/v1/flags", json=flag_body("twitter"), headers=agency.headers)
        ).json()
        before = datetime.fromisoformat(flag["due_at"])
        await client.post(
            f"/v1/flags/{flag['id']}/request-info", json={"question": "?"}, headers=platform.headers
        )
        async with app.state.engine.begin() as conn:
            await conn.execute(
                text(
                    "UPDATE flag SET info_requested_at = now() - interval '2 hours' WHERE id = :id"
                ),
                {"id": flag["id"]},
            )
        if finish == "outcome":
            resp = await client.post(
                f"/v1/flags/{flag['id']}/outcome",
                json={"action": "no_violation"},
                headers=platform.headers,
            )
        else:
            resp = await client.post(
                f"/v1/flags/{flag['id']}/withdraw", json={"reason": "done"}, headers=agency.headers
            )
        after = datetime.fromisoformat(resp.json()["due_at"])
        shift = (after - before).total_seconds()
        assert 2 * 3600 <= shift < 2 * 3600 + 60, (finish, shift)
