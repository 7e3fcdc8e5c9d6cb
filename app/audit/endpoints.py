"""`GET /v1/audit` for auditors (`audit:read`)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request

from app.audit import checkpoints, partitions, sealing
from app.audit import repository as repo
from app.audit.schemas import (
    ActorOut,
    AuditEntryOut,
    AuditPage,
    ChainVerification,
    CheckpointPage,
)
from app.auth.dependencies import AuditReadDep
from app.db import SessionDep
from app.errors import AUTH_ERRORS, problem_responses
from app.kit.pagination import CursorParam, LimitParam, decode_seq_cursor, seq_page
from app.kit.query_time import UtcDayOrTime

router = APIRouter(prefix="/v1/audit", tags=["audit"])


@router.get(
    "/verify",
    operation_id="verify_audit_chain",
    # Documented, not re-serialised: the handler's dict is sent as it is.
    response_model=None,
    responses={200: {"model": ChainVerification}, **problem_responses(*AUTH_ERRORS)},
)
async def verify_audit_chain(
    request: Request,
    principal: AuditReadDep,
    session: SessionDep,
) -> dict[str, object]:
    """Seal what has committed, then recompute the hash chain over every sealed entry:
    `ok`, or the first entry that does not match (edited, swapped or deleted), by seq."""
    await sealing.seal_pending(request.app.state.sessionmaker)
    result = (await sealing.verify_chain(session)).as_dict()
    ring = request.app.state.verifier.ring
    bad = await checkpoints.check_against_chain(session, ring, await checkpoints.stored(session))
    if bad is not None:
        result.update(status="mismatch", checkpoint=bad["checkpoint"], problem=bad["problem"])
    elif (forged := await partitions.check_archives(session, ring)) is not None:
        result.update(status="mismatch", **forged)
    return result


@router.get(
    "/checkpoints",
    operation_id="list_audit_checkpoints",
    # Documented, not re-serialised: timestamps keep the one format of kit.clock.rfc3339.
    response_model=None,
    responses={200: {"model": CheckpointPage}, **problem_responses(*AUTH_ERRORS)},
)
async def list_audit_checkpoints(
    principal: AuditReadDep,
    session: SessionDep,
    limit: LimitParam = 100,
    cursor: CursorParam = None,
) -> dict[str, object]:
    """Signed checkpoints of the chain, oldest first. Keep copies: a later rewrite of the
    log by anyone, database superusers included, no longer matches them."""
    after = decode_seq_cursor(cursor)
    rows = await checkpoints.list_checkpoints(session, after_id=after, limit=limit + 1)
    page, nxt = seq_page(rows, limit, lambda row: row[0])
    return {"items": [cp for _, cp in page], "next_cursor": nxt}


@router.get(
    "",
    response_model=AuditPage,
    operation_id="list_audit_entries",
    responses=problem_responses(*AUTH_ERRORS),
)
async def list_audit_entries(
    principal: AuditReadDep,
    session: SessionDep,
    actor: Annotated[uuid.UUID | None, Query(description="Client id of the actor")] = None,
    organization: Annotated[
        uuid.UUID | None, Query(description="Organisation of the actor")
    ] = None,
    object_id: Annotated[str | None, Query(max_length=200, pattern=r"^[^\x00]*$")] = None,
    action: Annotated[str | None, Query(max_length=64, pattern=r"^[a-z_.]+$")] = None,
    from_: Annotated[UtcDayOrTime | None, Query(alias="from")] = None,
    to: UtcDayOrTime | None = None,
    limit: LimitParam = 100,
    cursor: CursorParam = None,
) -> AuditPage:
    """The audit log in order of `seq`, filtered by actor, organisation, object, action and
    time range."""
    after = decode_seq_cursor(cursor)
    rows = await repo.list_entries(
        session,
        actor=actor,
        organization=organization,
        object_id=object_id,
        action=action,
        since=from_,
        until=to,
        after_seq=after,
        limit=limit + 1,
    )
    rows, nxt = seq_page(rows, limit, lambda row: row["seq"])
    items = [
        AuditEntryOut(
            seq=r["seq"],
            at=r["at"],
            actor=ActorOut(
                client_id=r["actor_client_id"],
                organization_id=r["actor_org_id"],
                label=r["actor_label"],
            ),
            client_ip=r["client_ip"],
            request_id=r["request_id"],
            action=r["action"],
            object_type=r["object_type"],
            object_id=r["object_id"],
            data=r["data"],
        )
        for r in rows
    ]
    return AuditPage(items=items, next_cursor=nxt)
