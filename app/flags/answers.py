"""A platform's acknowledgements and outcomes, for one flag or a batch, applied as sets.

The one home of what an ack and an outcome do: the single routes
(`POST /v1/flags/{id}/ack`, `/outcome`) call `answer_flags` with one answer, the batch
route (`POST /v1/outcomes/batch`) with up to a thousand.

Each answer is judged in request order against the flag as the answers before it left it,
exactly as if they ran one by one: the state machine (app/flags/state.py) decides in Python,
on the rows locked by one statement. The changes are then applied in rounds: round k holds
each flag's k-th successful answer, so a round changes every flag at most once (one UPDATE)
and renders it as that answer left it (one SELECT); a batch without repeated flags is one
round. What the
transitions leave behind is written last, in request order, by `transitions.leave_behind`.
A failing answer changes nothing, so it needs no savepoint.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.errors import AppError, Conflict, NotFound, field_error
from app.flags import contest, contest_repository, statement_repository
from app.flags import transition_repository as repo
from app.flags.state import Action, Status, is_noop, next_status
from app.flags.statement_schemas import StatementIn, check_statement, statement_row
from app.flags.transitions import Poke, Step, leave_behind
from app.kit.clock import utc_now


@dataclass(frozen=True)
class Answer:
    """One acknowledgement or outcome of one flag."""

    flag_id: uuid.UUID
    type: Literal["ack", "outcome"]
    action: str | None = None
    note: str | None = None
    actioned_at: datetime | None = None
    statement: StatementIn | None = None
    # The platform's final answer to a contest (app/flags/contest.py).
    reconsidered: bool = False


@dataclass
class Answered:
    """What became of one answer: the flag as JSON text after it, or the error."""

    flag: str | None = None
    error: AppError | None = None
    changed: bool = False
    round: int = 0


@dataclass
class _Change:
    index: int
    step: Step
    row: dict[str, Any]
    statement: dict[str, Any] | None = None


def _judge(answer: Answer, flag: dict[str, Any] | None) -> tuple[Step | None, dict[str, Any]]:
    """The step this answer takes on the flag as it now is (None: it changes nothing) and
    the columns to set; raises the answer's error."""
    if flag is None:
        raise NotFound("No such flag")
    status, agency = flag["status"], flag["agency_org_id"]
    if answer.type == "ack":
        if is_noop(status, Action.ACKNOWLEDGE):
            return None, {}
        new = next_status(status, Action.ACKNOWLEDGE)
        step = Step(flag_id=answer.flag_id, old=status, new=new, event="acknowledged", tell=agency)
        return step, {"outcome": False}
    check_statement(answer.action, answer.statement)
    if contest.check_reconsidered(flag, reconsidered=answer.reconsidered, action=answer.action):
        return None, {}
    if status == Status.CLOSED:
        if flag["outcome_action"] == answer.action:
            return None, {}
        raise Conflict(
            f"This flag is already closed with outcome {flag['outcome_action']}",
            current_status=status,
            current_action=flag["outcome_action"],
        )
    new = next_status(status, Action.RECORD_OUTCOME)
    now = utc_now()
    when = answer.actioned_at or now
    if when > now + timedelta(minutes=5):
        raise field_error("actioned_at", "is in the future")
    if when < flag["submitted_at"] - timedelta(days=3650):
        raise field_error("actioned_at", "is implausibly old")
    decided: dict[str, Any] = {"action": answer.action, "actioned_at": when.isoformat()}
    contested: dict[str, Any] = {}
    if answer.reconsidered:
        assert answer.action is not None
        turned = contest.overturned(flag["outcome_action"], answer.action)
        contested = {"reconsidered": True, "overturned": turned}
        decided |= contested
    step = Step(
        flag_id=answer.flag_id,
        old=status,
        new=new,
        event="outcome",
        event_data={**decided, "note": answer.note},
        tell=agency,
        feed_data=contested,
        audit_data=decided | _audited(answer),
        audit_free_text={"note": answer.note, **_audited_text(answer)},
    )
    values = {"outcome": True, "action": answer.action, "note": answer.note, **contested}
    return step, {**values, "actioned_at": when.isoformat()}


def _audited(answer: Answer) -> dict[str, Any]:
    """What the audit entry keeps of a statement in the clear (no free text)."""
    if answer.statement is None:
        return {}
    st = answer.statement
    return {
        "statement": {
            "ground": st.ground,
            "automated_detection": st.automated_detection,
            "automated_decision": st.automated_decision,
            "territorial_scope": st.territorial_scope.countries or "global",
        }
    }


def _audited_text(answer: Answer) -> dict[str, str | None]:
    """A statement's free text, which the audit entry keeps only as SHA-256."""
    if answer.statement is None:
        return {}
    st = answer.statement
    return {
        "legal_provision": st.legal_provision,
        "terms_clause": st.terms_clause,
        "explanation": st.explanation,
    }


async def answer_flags(
    *, session: AsyncSession, principal: Principal, answers: list[Answer], poke: Poke | None
) -> list[Answered]:
    """Apply the answers in order, each succeeding or failing on its own; one result each."""
    rows = await repo.lock_visible(
        session, principal=principal, flag_ids=[a.flag_id for a in answers]
    )
    results: list[Answered] = []
    changes: list[_Change] = []
    seen: dict[uuid.UUID, int] = {}
    for index, answer in enumerate(answers):
        flag = rows.get(answer.flag_id)
        try:
            step, values = _judge(answer, flag)
        except AppError as exc:
            results.append(Answered(error=exc))
            continue
        assert flag is not None
        results.append(Answered(changed=step is not None, round=seen.get(answer.flag_id, 0)))
        seen[answer.flag_id] = seen.get(answer.flag_id, 0) + 1
        if step is not None:
            row = {"flag_id": str(answer.flag_id), "status": step.new, **values}
            statement = None
            if answer.statement is not None and answer.action is not None:
                # A reconsidered outcome's statement is the flag's second decision's.
                decision = 2 if answer.reconsidered else 1
                statement = {"flag_id": row["flag_id"], "decision": decision}
                statement |= statement_row(answer.statement, answer.action)
            changes.append(_Change(index, step, row, statement))
            # Later answers on this flag see it as this one leaves it.
            flag["status"] = step.new
            if values.get("reconsidered"):
                flag["reconsidered_action"] = values["action"]
            elif values["outcome"]:
                flag["outcome_action"] = values["action"]
    for round_ in range(max(seen.values(), default=0)):
        in_round = [c for c in changes if results[c.index].round == round_]
        due = [c.row for c in in_round]
        await repo.apply_answers(session, answers=[r for r in due if not r.get("reconsidered")])
        await contest_repository.apply_reconsidered(
            session, answers=[r for r in due if r.get("reconsidered")]
        )
        await statement_repository.insert_statements(
            session, rows=[c.statement for c in in_round if c.statement is not None]
        )
        shown = [i for i, r in enumerate(results) if r.error is None and r.round == round_]
        docs = await repo.render_many(
            session, viewer=principal, flag_ids=[answers[i].flag_id for i in shown]
        )
        for i in shown:
            results[i].flag = docs[answers[i].flag_id]
    await leave_behind(session=session, actor=principal, steps=[c.step for c in changes], poke=poke)
    return results
