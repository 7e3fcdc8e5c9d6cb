"""The rules of a flag's life: submission, reading, and every transition after it."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.auth.principal import Principal
from app.errors import AppError, NotFound, field_error, invalid
from app.flags import repository as repo
from app.flags.answers import Answer, Answered, answer_flags
from app.flags.repository import DB_NOW
from app.flags.schemas import MAX_EVIDENCE, FlagCreate, FlagFilter, PlatformAccountIn
from app.flags.state import Action, Status, next_status
from app.flags.statement_schemas import StatementIn
from app.flags.transitions import Poke, Step, leave_behind
from app.identity import binding
from app.identity import repository as identity_repo
from app.identity.service import identity_of
from app.kit.canonical import sha256_hex
from app.kit.pagination import decode_time_id_cursor, keyset_page


def request_hash(payload: Any) -> str:
    """Hash of a normalised request body, for Idempotency-Key comparison."""
    return sha256_hex(payload)


def validate_batch_items(
    raw_items: list[dict[str, Any]],
) -> tuple[list[dict[str, Any]], dict[int, dict[str, Any]]]:
    """Validate each batch item on its own: (valid items with index, errors by index)."""
    valid: list[dict[str, Any]] = []
    errors: dict[int, dict[str, Any]] = {}
    for index, item in enumerate(raw_items):
        try:
            flag = FlagCreate.model_validate(item)
        except ValidationError as exc:
            errors[index] = invalid(exc).to_problem()
            continue
        valid.append({"index": index, "flag": flag.model_dump(mode="json")})
    return valid, errors


async def list_flags(
    *,
    session: AsyncSession,
    principal: Principal,
    filters: FlagFilter,
    cursor: str | None,
    limit: int,
) -> tuple[list[dict[str, Any]], str | None]:
    """A page of the caller's flags and the next cursor."""
    rows = await repo.list_flags(
        session,
        principal=principal,
        filters=filters,
        after=decode_time_id_cursor(cursor),
        limit=limit + 1,
    )
    page, next_cursor = keyset_page(rows, limit, lambda r: (r[0], r[1]))
    return [r[2] for r in page], next_cursor


async def get_flag(
    *, session: AsyncSession, principal: Principal, flag_id: uuid.UUID
) -> dict[str, Any]:
    """The flag with its history, if the caller may see it (else 404)."""
    row = await repo.get_visible(session, principal=principal, flag_id=flag_id)
    if row is None:
        raise NotFound("No such flag")
    flag = await repo.render(session, flag_id, principal)
    flag["events"] = await repo.history(
        session, flag_id=flag_id, platform_view=principal.kind == "platform"
    )
    return flag


async def _locked(
    session: AsyncSession, principal: Principal, flag_id: uuid.UUID
) -> dict[str, Any]:
    row = await repo.get_visible(session, principal=principal, flag_id=flag_id, for_update=True)
    if row is None:
        raise NotFound("No such flag")
    return row


async def _transition(
    session: AsyncSession,
    *,
    actor: Principal,
    flag: dict[str, Any],
    new: Status,
    values: dict[str, Any],
    event: str,
    event_data: dict[str, Any] | None = None,
    tell: uuid.UUID | None = None,
    feed_data: dict[str, Any] | None = None,
    audit_data: dict[str, Any] | None = None,
    audit_free_text: dict[str, str | None] | None = None,
    poke: Poke | None = None,
) -> dict[str, Any]:
    """Move the flag to `new` (setting `values` too) and leave what every transition leaves
    behind (`transitions.leave_behind`, the set-wise home, with this one step). Returns the
    flag as the actor sees it."""
    await repo.update_flag(session, flag["id"], {"status": new.value, **values})
    step = Step(
        flag_id=flag["id"],
        old=flag["status"],
        new=new.value,
        event=event,
        event_data=event_data or {},
        tell=tell,
        feed_data=feed_data or {},
        audit_data=audit_data or {},
        audit_free_text=audit_free_text or {},
    )
    await leave_behind(session=session, actor=actor, steps=[step], poke=poke)
    return await repo.render(session, flag["id"], actor)


async def _answer_one(
    session: AsyncSession, principal: Principal, answer: Answer, poke: Poke | None
) -> Answered:
    """One ack or outcome through the set-wise path (app/flags/answers.py); raises its error."""
    (done,) = await answer_flags(session=session, principal=principal, answers=[answer], poke=poke)
    if done.error is not None:
        raise done.error
    return done


async def acknowledge(
    *,
    session: AsyncSession,
    principal: Principal,
    flag_id: uuid.UUID,
    poke: Poke | None = None,
    account: PlatformAccountIn | None = None,
) -> dict[str, Any]:
    """Platform acknowledges receipt (idempotent), optionally stating the account's id."""
    if account is not None:
        flag = await _locked(session, principal, flag_id)
        await _bind_platform_account(session, actor=principal, flag=flag, account=account)
    done = await _answer_one(session, principal, Answer(flag_id=flag_id, type="ack"), poke)
    return dict(json.loads(done.flag or "null"))


async def request_info(
    *,
    session: AsyncSession,
    principal: Principal,
    flag_id: uuid.UUID,
    question: str,
    poke: Poke | None = None,
) -> dict[str, Any]:
    """Platform asks the agency a question; the deadline clock pauses until it answers."""
    flag = await _locked(session, principal, flag_id)
    return await _transition(
        session,
        actor=principal,
        flag=flag,
        new=next_status(flag["status"], Action.REQUEST_INFO),
        values={"info_requested_at": DB_NOW, "acknowledged_at": flag["acknowledged_at"] or DB_NOW},
        event="info_requested",
        event_data={"question": question},
        tell=flag["agency_org_id"],
        feed_data={"question": question},
        audit_free_text={"question": question},
        poke=poke,
    )


async def provide_info(
    *,
    session: AsyncSession,
    principal: Principal,
    flag_id: uuid.UUID,
    note: str,
    evidence: list[dict[str, Any]],
    poke: Poke | None = None,
) -> dict[str, Any]:
    """Agency answers the platform's question; the flag returns to acknowledged."""
    flag = await _locked(session, principal, flag_id)
    new = next_status(flag["status"], Action.PROVIDE_INFO)
    if len(flag["evidence"]) + len(evidence) > MAX_EVIDENCE:
        raise field_error("evidence", f"a flag holds at most {MAX_EVIDENCE} items")
    await repo.shift_due_at(session, flag_id)
    if evidence:
        await repo.append_evidence(session, flag_id, evidence)
    return await _transition(
        session,
        actor=principal,
        flag=flag,
        new=new,
        values={},
        event="info_provided",
        event_data={"note": note, "evidence": evidence},
        tell=flag["platform_org_id"],
        feed_data={"note": note},
        audit_data={"evidence_added": len(evidence)},
        audit_free_text={"note": note},
        poke=poke,
    )


async def record_outcome(
    *,
    session: AsyncSession,
    principal: Principal,
    flag_id: uuid.UUID,
    action: str,
    note: str | None,
    actioned_at: datetime | None,
    poke: Poke | None = None,
    account: PlatformAccountIn | None = None,
    statement: StatementIn | None = None,
    reconsidered: bool = False,
) -> tuple[dict[str, Any], bool]:
    """Platform reports what it did (optionally stating the account's id and its reasons);
    closes the flag. Returns (flag, changed)."""
    if account is not None:
        flag = await _locked(session, principal, flag_id)
        await _bind_platform_account(session, actor=principal, flag=flag, account=account)
    answer = Answer(
        flag_id=flag_id,
        type="outcome",
        action=action,
        note=note,
        actioned_at=actioned_at,
        statement=statement,
        reconsidered=reconsidered,
    )
    done = await _answer_one(session, principal, answer, poke)
    return dict(json.loads(done.flag or "null")), done.changed


async def withdraw(
    *,
    session: AsyncSession,
    principal: Principal,
    flag_id: uuid.UUID,
    reason: str,
    poke: Poke | None = None,
) -> dict[str, Any]:
    """Agency withdraws its flag (any status before closed)."""
    flag = await _locked(session, principal, flag_id)
    new = next_status(flag["status"], Action.WITHDRAW)
    await repo.shift_due_at(session, flag_id)  # settle a paused clock
    return await _transition(
        session,
        actor=principal,
        flag=flag,
        new=new,
        values={"withdrawn_at": DB_NOW, "withdraw_reason": reason, "info_requested_at": None},
        event="withdrawn",
        event_data={"reason": reason},
        # A platform that never saw the flag (it was held) must not hear of it now.
        tell=flag["platform_org_id"] if flag["status"] != Status.HELD else None,
        audit_free_text={"reason": reason},
        poke=poke,
    )


async def release_held_flag(
    *,
    session: AsyncSession,
    actor: Principal | None,
    flag: dict[str, Any],
    reason: str,
) -> list[uuid.UUID]:
    """A hold ended: the held flag opens, its clock starts now, the platform gets it.

    The caller holds the flag's row lock. Returns the organisations to wake.
    """
    new = next_status(flag["status"], Action.RELEASE)
    due = await repo.due_at_from_now(session, flag)
    await repo.update_flag(
        session, flag["id"], {"status": new.value, "opened_at": DB_NOW, "due_at": due}
    )
    await repo.add_history(
        session, flag_id=flag["id"], type_="released", actor=None, data={"reason": reason}
    )
    await repo.add_feed_event(
        session, recipient=flag["agency_org_id"], type_="flag.released", flag_id=flag["id"]
    )
    await repo.add_feed_event(
        session, recipient=flag["platform_org_id"], type_="flag.created", flag_id=flag["id"]
    )
    await repo.emit_corroborations(session, flag_id=flag["id"])
    await audit.record(
        session=session,
        actor=actor,
        actor_label=None if actor else "system",
        action="flag.released",
        object_type="flag",
        object_id=flag["id"],
        data={"from": flag["status"], "to": new.value, "reason": reason, "due_at": due.isoformat()},
    )
    return [flag["agency_org_id"], flag["platform_org_id"]]


async def submit_flags(
    *,
    session: AsyncSession,
    principal: Principal,
    flags: list[FlagCreate],
    request_id: str | None = None,
    client_ip: str | None = None,
) -> list[dict[str, Any]]:
    """Submit validated flags as POST /v1/flags/batch does: each succeeds or fails alone."""
    items = [{"index": i, "flag": f.model_dump(mode="json")} for i, f in enumerate(flags)]
    stored = await submit_batch(
        session=session, principal=principal, items=items, request_id=request_id,
        client_ip=client_ip,
    )  # fmt: skip
    return [{**r, "body": json.loads(r["body"])} for r in stored]


async def submit_batch(
    *,
    session: AsyncSession,
    principal: Principal,
    items: list[dict[str, Any]],
    request_id: str | None,
    client_ip: str | None,
) -> list[dict[str, Any]]:
    """Submit valid batch items ({"index", "flag"}): each account reduced to canonical keys
    with its platform's profile (a misfit fails that item alone), then one statement.
    Each result's body is JSON text."""
    platforms = {item["flag"]["platform"] for item in items}
    profiles = await identity_repo.profiles_of(session, platforms)
    ready: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []
    for item in items:
        flag = item["flag"]
        try:
            identity = identity_of(profiles.get(flag["platform"]), flag["account"])
        except AppError as exc:
            problem = json.dumps(exc.to_problem())
            failed.append({"index": item["index"], "status": exc.status, "body": problem})
            continue
        ready.append({"index": item["index"], "flag": {**flag, "identity": identity}})
    stored = await repo.submit_batch(
        session, principal=principal, items=ready, request_id=request_id, client_ip=client_ip
    )
    return sorted(stored + failed, key=lambda r: int(r["index"]))


async def _bind_platform_account(
    session: AsyncSession, *, actor: Principal, flag: dict[str, Any], account: PlatformAccountIn
) -> None:
    """Bind what the platform states about the flag's account (app/identity/binding.py),
    withdrawing same-agency duplicates a merge makes; history and audit record it."""
    plan = await binding.plan(session, flag=flag, account=account.model_dump())
    if not plan.changes:
        return
    for duplicate, kept in plan.duplicates:
        await _transition(
            session,
            actor=actor,
            flag=duplicate,
            new=next_status(duplicate["status"], Action.WITHDRAW),
            values={"withdrawn_at": DB_NOW, "withdraw_reason": f"duplicate of flag {kept}"},
            event="withdrawn",
            event_data={"reason": "duplicate", "duplicate_of": str(kept)},
            tell=duplicate["agency_org_id"],
            feed_data={"duplicate_of": str(kept)},
        )
    await binding.apply(session, plan)
    event = "account.merged" if plan.merge_from is not None else "account.bound"
    stated = {k: v for k, v in plan.stated.items() if v is not None and k != "url"}
    await repo.add_history(session, flag_id=flag["id"], type_=event, actor=actor, data=stated)
    await audit.record(
        session=session,
        actor=actor,
        action=event,
        object_type="flag",
        object_id=flag["id"],
        data={
            "account_id": str(plan.account_id),
            "merged_account_id": str(plan.merge_from) if plan.merge_from else None,
            "keys": {"bound": len(plan.bind), "released": len(plan.release)},
            "duplicates_withdrawn": [str(d["id"]) for d, _ in plan.duplicates],
        },
    )
