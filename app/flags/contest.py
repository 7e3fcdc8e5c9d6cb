"""Contest and reconsideration: an agency disputes a closed flag's outcome, once, and the
platform answers with a final, reconsidered outcome.

The one home of the contest's domain rules: which outcomes may be contested
(`CONTESTABLE`), within which window (`FLAGBRIDGE_CONTEST_WINDOW_DAYS` after the outcome),
that a flag is contested at most once, and what "overturned" means. The transitions
themselves are the state machine's (`closed -> reconsideration -> closed` in
app/flags/state.py), and what they leave behind is `transitions.leave_behind`'s.

Both decisions stay on the flag: the first outcome in its outcome columns (the statistics
count first outcomes), the reconsidered one in `reconsidered_*` beside it.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.errors import Conflict, NotFound
from app.flags import contest_repository as contest_repo
from app.flags import repository as repo
from app.flags.state import Action, Status, next_status
from app.flags.transitions import Poke, Step, leave_behind
from app.kit.clock import rfc3339, utc_now
from app.vocabulary import ACTIONED, NOT_ACTIONED

CONTESTABLE: tuple[str, ...] = NOT_ACTIONED
"""The first outcomes an agency may contest: those in which the platform did not act."""


def overturned(first: str, reconsidered: str) -> bool:
    """Whether the reconsidered outcome overturns the first: one acted, the other did not."""
    return (first in ACTIONED) != (reconsidered in ACTIONED)


def check_contest(flag: dict[str, Any], *, now: datetime, window_days: int) -> Status:
    """The status a contest moves the flag to, or the 409 saying why it may not."""
    status = flag["status"]
    if flag["contested_at"] is not None:
        raise Conflict(
            f"This flag ({status}) has already been contested; a flag is contested once",
            current_status=status,
        )
    new = next_status(status, Action.CONTEST)
    if flag["outcome_action"] not in CONTESTABLE:
        raise Conflict(
            f"This flag is {status} with {flag['outcome_action']}, which cannot be contested; "
            "only " + ", ".join(CONTESTABLE),
            current_status=status,
            current_action=flag["outcome_action"],
        )
    ends = flag["closed_at"] + timedelta(days=window_days)
    if now > ends:
        raise Conflict(
            f"The contest window of this {status} flag's outcome ended at {rfc3339(ends)}",
            current_status=status,
            window_ended_at=rfc3339(ends),
        )
    return new


def check_reconsidered(flag: dict[str, Any], *, reconsidered: bool, action: str | None) -> bool:
    """Whether an outcome answer fits the flag's place in a contest round: True when it
    repeats the reconsidered outcome already recorded (a no-op), False when the ordinary
    rules apply; else a 409 naming the current status."""
    status = flag["status"]
    if status == Status.RECONSIDERATION and not reconsidered:
        raise Conflict(
            'This flag is in reconsideration: send its final outcome with "reconsidered": true',
            current_status=status,
        )
    if flag["reconsidered_action"] is not None:
        if reconsidered and action == flag["reconsidered_action"]:
            return True
        raise Conflict(
            f"This flag is already closed with reconsidered outcome {flag['reconsidered_action']}",
            current_status=status,
            current_action=flag["reconsidered_action"],
        )
    if reconsidered and status != Status.RECONSIDERATION:
        raise Conflict(
            f'Only a flag in reconsideration takes "reconsidered": true; this one is {status}',
            current_status=status,
        )
    return False


async def contest_outcome(
    *,
    session: AsyncSession,
    principal: Principal,
    flag_id: uuid.UUID,
    reason: str,
    evidence: list[dict[str, Any]],
    window_days: int,
    poke: Poke | None = None,
) -> dict[str, Any]:
    """The submitting agency contests its flag's outcome: the flag goes back to the
    platform in reconsideration, with a new deadline from the deadline policy."""
    flag = await repo.get_visible(session, principal=principal, flag_id=flag_id, for_update=True)
    if flag is None:
        raise NotFound("No such flag")
    new = check_contest(flag, now=utc_now(), window_days=window_days)
    if await contest_repo.agency_has_other_live_flag(session, flag=flag):
        raise Conflict(
            "Your agency has a live flag on this account; withdraw it or wait for its outcome "
            "before contesting this one",
            current_status=flag["status"],
        )
    due = await repo.due_at_from_now(session, flag)
    await contest_repo.contest(
        session, flag_id=flag_id, status=new.value, reason=reason, evidence=evidence, due_at=due
    )
    first = flag["outcome_action"]
    step = Step(
        flag_id=flag_id,
        old=flag["status"],
        new=new.value,
        event="contested",
        event_data={"reason": reason, "evidence": evidence, "first_outcome": first},
        tell=flag["platform_org_id"],
        feed_data={"first_outcome": first, "due_at": rfc3339(due)},
        audit_data={
            "first_outcome": first,
            "evidence_added": len(evidence),
            "due_at": rfc3339(due),
        },
        audit_free_text={"reason": reason},
    )
    await leave_behind(session=session, actor=principal, steps=[step], poke=poke)
    return await repo.render(session, flag_id, principal)
