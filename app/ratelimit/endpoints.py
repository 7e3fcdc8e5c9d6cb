"""`/v1/admin/organizations/{org_id}/rate-limits`: operators set an organisation's budgets."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request

from app.auth.dependencies import AdminDep
from app.db import SessionDep
from app.errors import AUTH_ERRORS, problem_responses
from app.ratelimit import policies
from app.ratelimit.schemas import RateLimitsOut, RateLimitsUpdate

router = APIRouter(prefix="/v1/admin", tags=["admin"], responses=problem_responses(*AUTH_ERRORS))


@router.get(
    "/organizations/{org_id}/rate-limits",
    response_model=RateLimitsOut,
    responses=problem_responses(404),
)
async def get_rate_limits(
    org_id: uuid.UUID, request: Request, principal: AdminDep, session: SessionDep
) -> RateLimitsOut:
    """The budgets of an organisation's clients: what applies and what an operator set."""
    return await policies.show(
        session=session, cache=request.app.state.rate_limits.policies, org_id=org_id
    )


@router.put(
    "/organizations/{org_id}/rate-limits",
    response_model=RateLimitsOut,
    responses=problem_responses(404),
)
async def set_rate_limits(
    org_id: uuid.UUID,
    body: RateLimitsUpdate,
    request: Request,
    principal: AdminDep,
    session: SessionDep,
) -> RateLimitsOut:
    """Set the budgets of an organisation's clients (per client; null is the default).
    Every process applies them within `FLAGBRIDGE_RATE_POLICY_REFRESH_SECONDS`."""
    return await policies.set_limits(
        session=session,
        cache=request.app.state.rate_limits.policies,
        actor=principal,
        org_id=org_id,
        update=body,
    )
