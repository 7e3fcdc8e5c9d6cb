"""The audit log for auditors (`audit:read`), and checkpoints and witnessing for every
member (`audit:checkpoints`)."""

from __future__ import annotations

import math
import uuid
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from app.audit import checkpoints, runs, sealing, verification, witnesses
from app.audit import repository as repo
from app.audit.schemas import (
    ActorOut,
    AuditEntryOut,
    AuditPage,
    ChainVerification,
    CheckpointPage,
    CosignatureIn,
    CosignatureOut,
    LeafPage,
    WitnessKeyIn,
    WitnessKeyOut,
)
from app.auth.dependencies import AuditReadDep, CheckpointReadDep, WitnessDep
from app.db import ReadSessionDep, SessionDep
from app.errors import AUTH_ERRORS, RateLimited, problem_responses
from app.kit.pagination import CursorParam, LimitParam, decode_seq_cursor, seq_page
from app.kit.query_time import UtcDayOrTime

router = APIRouter(prefix="/v1/audit", tags=["audit"], responses=problem_responses(*AUTH_ERRORS))


# A busy verifier is not an error of the caller's: a short wait is enough.
BUSY_RETRY_SECONDS = 5


@router.get(
    "/verify",
    # Documented, not re-serialised: the handler's dict is sent as it is.
    response_model=None,
    responses={200: {"model": ChainVerification}, **problem_responses(429)},
)
async def verify_audit_chain(
    request: Request,
    principal: AuditReadDep,
    session: SessionDep,
    full: Annotated[
        bool,
        Query(
            description="Recompute the whole chain instead of what follows the newest "
            "checkpoint an earlier run verified (at most once a minute per client)"
        ),
    ] = False,
) -> dict[str, object]:
    """Seal what has committed, then recompute the hash chain (by default from the newest
    verified checkpoint on): `ok`, or the first entry that does not match (edited, swapped
    or deleted), by seq; the positions checked; and which witnesses vouch for the newest
    checkpoint. One verification runs at a time across all servers: 429 while another does,
    and 429 for a full run sooner than the minimum interval."""
    if full:
        interval = timedelta(seconds=request.app.state.settings.audit_full_verify_interval_seconds)
        ago = await runs.since_last_full(session, client_id=principal.client_id)
        if ago is not None and ago < interval:
            wait = math.ceil((interval - ago).total_seconds())
            raise RateLimited(
                "A full verification ran recently; the incremental one is always available",
                headers={"Retry-After": str(max(wait, 1))},
            )
    if not await runs.take_turn(session):
        raise RateLimited(
            "Another verification is running", headers={"Retry-After": str(BUSY_RETRY_SECONDS)}
        )
    await sealing.seal_pending(request.app.state.sessionmaker)
    return await verification.verify_log(
        session, request.app.state.verifier.ring, full=full, client_id=principal.client_id
    )


@router.get(
    "/checkpoints",
    # Documented, not re-serialised: timestamps keep the one format of kit.clock.rfc3339.
    response_model=None,
    responses={200: {"model": CheckpointPage}},
)
async def list_audit_checkpoints(
    principal: CheckpointReadDep,
    session: ReadSessionDep,
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
    "/chain",
    response_model=LeafPage,
)
async def list_audit_chain_leaves(
    principal: CheckpointReadDep,
    session: ReadSessionDep,
    after: Annotated[int, Query(ge=0, description="Position after which to start")] = 0,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> LeafPage:
    """Leaf hashes of the chain in order: a witness folds them from its saved checkpoint's
    head to check that a newer checkpoint extends it (no entry content is shown)."""
    return LeafPage.model_validate({"items": await repo.leaves(session, after=after, limit=limit)})


@router.put(
    "/witness-key",
    response_model=WitnessKeyOut,
    responses=problem_responses(409),
)
async def register_witness_key(
    body: WitnessKeyIn, principal: WitnessDep, session: SessionDep
) -> WitnessKeyOut:
    """Register your organisation's witness public key (EC P-256 JWK); its co-signatures
    must use it. Earlier keys are kept, so your earlier co-signatures stay verifiable."""
    key = await witnesses.register_key(
        session=session, principal=principal, jwk=body.jwk.model_dump()
    )
    return WitnessKeyOut.model_validate(key)


@router.post(
    "/checkpoints/{seq}/cosign",
    response_model=CosignatureOut,
    status_code=201,
    responses={200: {"model": CosignatureOut}, **problem_responses(404)},
)
async def cosign_audit_checkpoint(
    request: Request,
    response: Response,
    body: CosignatureIn,
    principal: WitnessDep,
    session: SessionDep,
    seq: Annotated[int, Path(ge=1)],
) -> CosignatureOut:
    """Co-sign a checkpoint you verified against your own saved earlier checkpoint (201;
    the same co-signature again is 200)."""
    kept, created = await witnesses.record_cosignature(
        session=session,
        principal=principal,
        ring=request.app.state.verifier.ring,
        seq=seq,
        signature=body.signature,
    )
    response.status_code = 201 if created else 200
    return CosignatureOut.model_validate(kept)


@router.get(
    "",
    response_model=AuditPage,
)
async def list_audit_entries(
    principal: AuditReadDep,
    session: ReadSessionDep,
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
