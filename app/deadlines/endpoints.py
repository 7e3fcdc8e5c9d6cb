"""Operator routes to read and set deadline policies (rules in `app.deadlines.service`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from app.auth.dependencies import AdminDep
from app.db import SessionDep
from app.deadlines import service
from app.deadlines.schemas import DeadlinePolicy, DeadlinePolicyIn, DeadlinePolicyList
from app.errors import AUTH_ERRORS, problem_responses
from app.vocabulary import FlagKind, Priority

router = APIRouter(
    prefix="/v1/admin/deadline-policies", tags=["admin"], responses=problem_responses(*AUTH_ERRORS)
)
CountryPath = Annotated[str, Path(pattern=r"^([A-Za-z]{2}|\*)$")]


@router.get("", response_model=DeadlinePolicyList)
async def list_deadline_policies(principal: AdminDep, session: SessionDep) -> DeadlinePolicyList:
    """The default deadlines and every country's overrides."""
    return DeadlinePolicyList(items=await service.list_policies(session=session))


@router.put("/{country}/{kind}/{priority}", response_model=DeadlinePolicy)
async def set_deadline_policy(
    country: CountryPath,
    kind: FlagKind,
    priority: Priority,
    body: DeadlinePolicyIn,
    principal: AdminDep,
    session: SessionDep,
) -> DeadlinePolicy:
    """Set the deadline for new flags of a country (or `*` for the default)."""
    return await service.set_policy(
        session=session,
        principal=principal,
        country=country,
        kind=kind,
        priority=priority,
        seconds=body.seconds,
    )


@router.delete("/{country}/{kind}/{priority}", status_code=204, responses=problem_responses(404))
async def delete_deadline_policy(
    country: CountryPath,
    kind: FlagKind,
    priority: Priority,
    principal: AdminDep,
    session: SessionDep,
) -> None:
    """Remove a country's override, so the default applies again (defaults stay)."""
    await service.delete_policy(
        session=session, principal=principal, country=country, kind=kind, priority=priority
    )
