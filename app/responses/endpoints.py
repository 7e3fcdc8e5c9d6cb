"""Platform routes: ack, request-info, outcome, and batches of acks and outcomes."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from app.auth.dependencies import RespondDep
from app.db import SessionDep
from app.errors import AUTH_ERRORS, problem_responses
from app.feeds.dependencies import PokeDep
from app.flags import service as flags
from app.flags.dependencies import FLAG_CHANGE_ROUTE, FlagChangeDep
from app.responses import service
from app.responses.schemas import (
    AckIn,
    OutcomeBatchIn,
    OutcomeBatchOut,
    OutcomeIn,
    QuestionIn,
)

router = APIRouter(tags=["platform responses"], responses=problem_responses(*AUTH_ERRORS))


@router.post("/v1/flags/{flag_id}/ack", **FLAG_CHANGE_ROUTE)
async def acknowledge_flag(
    principal: RespondDep, flag: FlagChangeDep, body: AckIn | None = None
) -> JSONResponse:
    """Acknowledge receipt (idempotent); you may state the account's id and handle."""
    account = body.account if body else None
    return JSONResponse(await flags.acknowledge(**flag.by(principal), account=account))


@router.post("/v1/flags/{flag_id}/request-info", **FLAG_CHANGE_ROUTE)
async def request_flag_info(
    body: QuestionIn, principal: RespondDep, flag: FlagChangeDep
) -> JSONResponse:
    """Ask the agency a question; the deadline clock pauses until it answers."""
    return JSONResponse(await flags.request_info(**flag.by(principal), question=body.question))


@router.post("/v1/flags/{flag_id}/outcome", **FLAG_CHANGE_ROUTE)
async def record_flag_outcome(
    body: OutcomeIn, principal: RespondDep, flag: FlagChangeDep
) -> JSONResponse:
    """Report what you did; closes the flag. The same outcome again is 200, another is 409.
    A contested flag (`reconsideration`) takes its final outcome with `"reconsidered": true`."""
    closed, _ = await flags.record_outcome(
        **flag.by(principal),
        action=body.action,
        note=body.note,
        actioned_at=body.actioned_at,
        account=body.account,
        statement=body.statement,
        reconsidered=body.reconsidered,
    )
    return JSONResponse(closed)


@router.post("/v1/outcomes/batch", response_model=OutcomeBatchOut)
async def record_outcome_batch(
    body: OutcomeBatchIn, principal: RespondDep, session: SessionDep, poke: PokeDep
) -> Response:
    """Up to 1000 acks and outcomes; each item succeeds or fails on its own."""
    results = await service.record_batch(
        session=session, principal=principal, items=body.items, poke=poke
    )
    # The results are JSON text already (each flag as its statement rendered it).
    return Response(results, media_type="application/json")
