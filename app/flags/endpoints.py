"""Agency routes: submit (single and batch), list, read, withdraw, answer questions."""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError

from app.auth.dependencies import FlagsReadDep, SubmitDep
from app.auth.principal import Principal, authorize, requires_any
from app.db import SessionDep
from app.errors import AUTH_ERRORS, invalid, problem_responses
from app.feeds.dependencies import PokeDep, poke_after_commit
from app.flags import contest, service
from app.flags.dependencies import FLAG_CHANGE_ROUTE, FlagChangeDep
from app.flags.group_commit import Submission
from app.flags.schemas import (
    SLUG,
    BatchOut,
    Category,
    ContestIn,
    FlagBatchIn,
    FlagCreate,
    FlagDetail,
    FlagFilter,
    FlagOut,
    FlagPage,
    FlagStatus,
    InfoIn,
    WithdrawIn,
)
from app.kit.idempotency import (
    IDEMPOTENCY_PARAMETER,
    IdempotencyKey,
    json_response,
    read_idempotency_key,
)
from app.kit.idempotent_route import Created, create_once
from app.kit.pagination import CursorParam, LimitParam, page_response
from app.kit.query_time import UtcDayOrTime
from app.observability import (
    FLAG_SUBMISSIONS,
    client_ip_var,
    request_id_var,
    submissions_counted,
)

router = APIRouter(prefix="/v1/flags", tags=["flags"], responses=problem_responses(*AUTH_ERRORS))
ViewDep = Annotated[
    Principal, Depends(requires_any("flags:read", "flags:respond", "audit:read", "admin"))
]

SUBMIT_ROUTE = "POST /v1/flags"
BATCH_ROUTE = "POST /v1/flags/batch"
CONTEST_ROUTE = "POST /v1/flags/{flag_id}/contest"


@router.post(
    "",
    status_code=201,
    response_model=FlagOut,
    responses=problem_responses(409),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/FlagCreate"}}
            },
        },
        "parameters": [IDEMPOTENCY_PARAMETER],
        "security": [{"oauth2": ["flags:submit"]}],
    },
)
async def submit_flag(request: Request) -> Response:
    """Flag an account to the platform that hosts it.

    `country` and `agency` come from the token. Flagging an account your agency already has
    a live flag on is 409 with `existing_flag_id`; a hold by another agency makes the flag
    `held` until it is released.
    """
    # The hottest route skips dependency injection (a third of its CPU when measured):
    # it authenticates, reads the one header and validates the raw body itself, with the
    # same checks and the same problem documents as every other route. The middleware
    # calls it directly, past the router (`direct_routes` in app/main.py).
    principal = await authorize(request, "flags:submit")
    key = read_idempotency_key(request)
    try:
        body = FlagCreate.model_validate_json(await request.body())
    except ValidationError as exc:
        raise invalid(exc) from None
    payload = body.model_dump_json()
    status, raw, replayed, notify, flag_id = await request.app.state.submissions.submit(
        Submission(
            org_id=principal.org_id,
            client_id=principal.client_id,
            country=principal.country,
            flag=payload,
            idempotency_key=key,
            request_hash=hashlib.sha256(payload.encode()).hexdigest() if key else "",
            request_id=request_id_var.get(),
            client_ip=client_ip_var.get(),
            platform=body.platform,
            account=body.account.model_dump(),
        )
    )
    if notify:
        request.app.state.feed_notifier.poke(notify)
    submissions_counted(status).inc()
    response = json_response(status, raw, replayed=replayed)
    if flag_id:
        response.headers["Location"] = f"/v1/flags/{flag_id}"
    return response


@router.post("/batch", response_model=BatchOut, responses=problem_responses(409))
async def submit_flag_batch(
    body: FlagBatchIn,
    principal: SubmitDep,
    session: SessionDep,
    poke: PokeDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Submit up to 1000 flags; each item succeeds or fails on its own."""
    valid, errors = service.validate_batch_items(body.flags)
    # Invalid items take part by their raw body, so a retry that fixes one is a new request.
    request = {"valid": valid, "invalid": {str(i): body.flags[i] for i in sorted(errors)}}

    async def submit() -> Created:
        stored = await service.submit_batch(
            session=session,
            principal=principal,
            items=valid,
            request_id=request_id_var.get(),
            client_ip=client_ip_var.get(),
        )
        # The answer is assembled from the JSON the database rendered for each flag: the
        # 1,000 flags of a batch are encoded once, not parsed and encoded again.
        results: list[str] = []
        notify: set[str] = set()
        by_index = {r["index"]: r for r in stored}
        for index in range(len(body.flags)):
            if index in errors:
                status, outcome, answer = 422, "error", json.dumps(errors[index])
            else:
                item = by_index[index]
                notify.update(item.get("notify") or [])
                status, answer = item["status"], item["body"]
                outcome = "flag" if status == 201 else "error"
            FLAG_SUBMISSIONS.labels(str(status)).inc()
            results.append(f'{{"index": {index}, "status": {status}, "{outcome}": {answer}}}')
        poke_after_commit(session, poke, notify)
        return Created(200, None, raw='{"results": [' + ", ".join(results) + "]}")

    return await create_once(
        session,
        principal.client_id,
        BATCH_ROUTE,
        key=idempotency_key,
        request=request,
        create=submit,
    )


@router.get("", response_model=FlagPage)
async def list_flags(
    principal: FlagsReadDep,
    session: SessionDep,
    status: FlagStatus | None = None,
    platform: Annotated[str | None, Query(pattern=SLUG)] = None,
    category: Category | None = None,
    submitted_after: UtcDayOrTime | None = None,
    submitted_before: UtcDayOrTime | None = None,
    limit: LimitParam = 100,
    cursor: CursorParam = None,
) -> JSONResponse:
    """Your agency's flags, newest first."""
    filters = FlagFilter(status, platform, category, submitted_after, submitted_before)
    items, nxt = await service.list_flags(
        session=session, principal=principal, filters=filters, cursor=cursor, limit=limit
    )
    return page_response(items, nxt)


@router.get("/{flag_id}", response_model=FlagDetail, responses=problem_responses(404))
async def get_flag(flag_id: uuid.UUID, principal: ViewDep, session: SessionDep) -> JSONResponse:
    """A flag and its history: for the submitting agency, the platform, auditors, operators."""
    return JSONResponse(
        await service.get_flag(session=session, principal=principal, flag_id=flag_id)
    )


@router.post("/{flag_id}/withdraw", **FLAG_CHANGE_ROUTE)
async def withdraw_flag(
    body: WithdrawIn, principal: SubmitDep, flag: FlagChangeDep
) -> JSONResponse:
    """Withdraw your flag (any status before closed)."""
    return JSONResponse(await service.withdraw(**flag.by(principal), reason=body.reason))


@router.post("/{flag_id}/info", **FLAG_CHANGE_ROUTE)
async def provide_flag_info(
    body: InfoIn, principal: SubmitDep, flag: FlagChangeDep
) -> JSONResponse:
    """Answer the platform's question; the flag returns to acknowledged and its clock resumes."""
    evidence = [e.model_dump(mode="json") for e in body.evidence or []]
    answered = await service.provide_info(**flag.by(principal), note=body.note, evidence=evidence)
    return JSONResponse(answered)


@router.post("/{flag_id}/contest", **FLAG_CHANGE_ROUTE)
async def contest_flag_outcome(
    body: ContestIn,
    principal: SubmitDep,
    flag: FlagChangeDep,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Contest your flag's outcome (no_violation, insufficient_information or
    account_not_found), once, within FLAGBRIDGE_CONTEST_WINDOW_DAYS of it, with a reason and
    new evidence. The flag goes back to the platform in `reconsideration` with a new
    deadline; its final outcome comes with `"reconsidered": true`."""

    async def contest_once() -> Created:
        evidence = [e.model_dump(mode="json") for e in body.evidence]
        contested = await contest.contest_outcome(
            **flag.by(principal),
            reason=body.reason,
            evidence=evidence,
            window_days=request.app.state.settings.contest_window_days,
        )
        return Created(200, contested)

    # The flag is part of what the key identifies: one key on two flags is a 422.
    identity = {"flag_id": str(flag.flag_id), **body.model_dump(mode="json")}
    return await create_once(
        flag.session,
        principal.client_id,
        CONTEST_ROUTE,
        key=idempotency_key,
        request=identity,
        create=contest_once,
    )
