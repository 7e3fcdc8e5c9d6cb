"""Operator routes to read and set deadline policies.

A policy row for a country overrides the default (`*`) for flags that country issues from
then on; flags already submitted keep the deadline they were given.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, Field
from sqlalchemy import text

from app.audit import service as audit
from app.auth.principal import Principal, requires
from app.db import SessionDep
from app.errors import AUTH_ERRORS, NotFound, Unprocessable, problem_responses
from app.flags.schemas import Strict
from app.kit.countries import ISO_3166_ALPHA2
from app.vocabulary import FlagKind, Priority

router = APIRouter(prefix="/v1/admin/deadline-policies", tags=["admin"])
AdminDep = Annotated[Principal, Depends(requires("admin"))]
CountryPath = Annotated[str, Path(pattern=r"^([A-Za-z]{2}|\*)$")]


class DeadlinePolicy(BaseModel):
    """Seconds a platform has for flags of this country (or `*`, the default), kind, priority."""

    country: str
    kind: FlagKind
    priority: Priority
    seconds: int


class DeadlinePolicyIn(Strict):
    """A new deadline in seconds (1 minute to 1 year)."""

    seconds: int = Field(ge=60, le=31_536_000)


class DeadlinePolicyList(BaseModel):
    """Every policy row, defaults (`*`) first."""

    items: list[DeadlinePolicy]


def _country(value: str) -> str:
    country = value.upper()
    if country != "*" and country not in ISO_3166_ALPHA2:
        raise Unprocessable(
            "Invalid input: country",
            errors=[{"field": "country", "message": "not an ISO 3166-1 alpha-2 code or *"}],
        )
    return country


@router.get(
    "",
    response_model=DeadlinePolicyList,
    operation_id="list_deadline_policies",
    responses=problem_responses(*AUTH_ERRORS),
)
async def list_policies(principal: AdminDep, session: SessionDep) -> DeadlinePolicyList:
    """The default deadlines and every country's overrides."""
    rows = await session.execute(
        text(
            "SELECT country, kind, priority, seconds FROM deadline_policy "
            "ORDER BY country <> '*', country, kind, priority"
        )
    )
    return DeadlinePolicyList(items=[DeadlinePolicy(**r._mapping) for r in rows])


@router.put(
    "/{country}/{kind}/{priority}",
    response_model=DeadlinePolicy,
    operation_id="set_deadline_policy",
    responses=problem_responses(*AUTH_ERRORS),
)
async def set_policy(
    country: CountryPath,
    kind: FlagKind,
    priority: Priority,
    body: DeadlinePolicyIn,
    principal: AdminDep,
    session: SessionDep,
) -> DeadlinePolicy:
    """Set the deadline for new flags of a country (or `*` for the default)."""
    cc = _country(country)
    old = (
        await session.execute(
            text(
                "SELECT seconds FROM deadline_policy "
                "WHERE country = :c AND kind = :k AND priority = :p"
            ),
            {"c": cc, "k": kind, "p": priority},
        )
    ).scalar()
    await session.execute(
        text(
            "INSERT INTO deadline_policy (country, kind, priority, seconds) "
            "VALUES (:c, :k, :p, :s) ON CONFLICT (country, kind, priority) "
            "DO UPDATE SET seconds = excluded.seconds, updated_at = now()"
        ),
        {"c": cc, "k": kind, "p": priority, "s": body.seconds},
    )
    await audit.record(
        session=session,
        actor=principal,
        action="deadline_policy.set",
        object_type="deadline_policy",
        object_id=f"{cc}/{kind}/{priority}",
        data={"seconds": body.seconds, "previous_seconds": old},
    )
    return DeadlinePolicy(country=cc, kind=kind, priority=priority, seconds=body.seconds)


@router.delete(
    "/{country}/{kind}/{priority}",
    status_code=204,
    operation_id="delete_deadline_policy",
    responses=problem_responses(*AUTH_ERRORS, 404),
)
async def delete_policy(
    country: CountryPath,
    kind: FlagKind,
    priority: Priority,
    principal: AdminDep,
    session: SessionDep,
) -> None:
    """Remove a country's override, so the default applies again (defaults stay)."""
    cc = _country(country)
    if cc == "*":
        raise Unprocessable(
            "Invalid input: country",
            errors=[{"field": "country", "message": "the default cannot be removed; set it"}],
        )
    deleted = (
        await session.execute(
            text(
                "DELETE FROM deadline_policy WHERE country = :c AND kind = :k AND priority = :p "
                "RETURNING seconds"
            ),
            {"c": cc, "k": kind, "p": priority},
        )
    ).scalar()
    if deleted is None:
        raise NotFound("No such policy")
    await audit.record(
        session=session,
        actor=principal,
        action="deadline_policy.deleted",
        object_type="deadline_policy",
        object_id=f"{cc}/{kind}/{priority}",
        data={"previous_seconds": deleted},
    )
