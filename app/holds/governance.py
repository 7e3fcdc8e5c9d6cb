"""The rules that keep holds governable: a limit of active holds per agency, renewals that
are recorded and capped, and the operators' view of who holds how much.

The holds themselves (matching, expiry, release) are app/holds/service.py; this module wraps
creation with the limit and adds what a hold's agency and the operators may do beyond it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.auth.principal import Principal
from app.errors import Conflict, NotFound, field_error
from app.holds import governance_repository as repo
from app.holds import service as holds
from app.holds.expiry import check_expiry
from app.holds.governance_schemas import HoldRenew
from app.holds.schemas import HoldCreate
from app.kit.clock import rfc3339, utc_now
from app.kit.pagination import decode_cursor, encode_cursor


@dataclass(frozen=True)
class HoldLimits:
    """The configured limits (FLAGBRIDGE_MAX_ACTIVE_HOLDS, FLAGBRIDGE_MAX_HOLD_RENEWALS)."""

    max_active_holds: int
    max_hold_renewals: int


class HoldLimitReached(Conflict, status=409, slug="hold-limit", title="Hold limit reached"):
    """The agency already has as many active holds as it may."""


class RenewalLimitReached(
    Conflict, status=409, slug="renewal-limit", title="Renewal limit reached"
):
    """The hold has been renewed as often as a hold may be."""


async def create_hold(
    *, session: AsyncSession, principal: Principal, data: HoldCreate, limits: HoldLimits
) -> dict[str, Any]:
    """Place a hold if the agency is below its limit of active holds (409 otherwise)."""
    # The lock makes count-then-insert atomic per agency across workers: a second creation
    # waits for the first to commit and then counts its hold. Other agencies never wait.
    await repo.lock_agency_holds(session, principal.org_id)
    active = await repo.count_active(session, principal.org_id)
    if active >= limits.max_active_holds:
        raise HoldLimitReached(
            f"Your agency has {active} active holds and the limit is "
            f"{limits.max_active_holds}: release a hold or let one expire first",
            limit=limits.max_active_holds,
            active_holds=active,
        )
    return await holds.create_hold(session=session, principal=principal, data=data)


async def get_hold(
    *, session: AsyncSession, principal: Principal, hold_id: uuid.UUID
) -> dict[str, Any]:
    """One of the agency's holds with its renewals (404 for anyone else's)."""
    hold = await holds.get_hold(session=session, principal=principal, hold_id=hold_id)
    return {**hold, "renewals": await repo.renewals(session, hold_id)}


async def renew_hold(
    *,
    session: AsyncSession,
    principal: Principal,
    hold_id: uuid.UUID,
    data: HoldRenew,
    limits: HoldLimits,
) -> dict[str, Any]:
    """Move an active hold's expiry later, at most 90 days ahead, a limited number of times;
    the renewal is recorded on the hold and audited."""
    hold = await repo.lock_own_hold(session, agency=principal.org_id, hold_id=hold_id)
    if hold is None:
        raise NotFound("No such hold")
    if not hold["active"]:
        raise Conflict("The hold is released or expired: only an active hold can be renewed")
    if hold["renewals"] >= limits.max_hold_renewals:
        raise RenewalLimitReached(
            f"The hold has been renewed {hold['renewals']} times and the limit is "
            f"{limits.max_hold_renewals}: place a new hold if it is still needed",
            limit=limits.max_hold_renewals,
            renewals=hold["renewals"],
        )
    check_expiry(data.expires_at, now=utc_now(), current=hold["expires_at"])
    await repo.renew(
        session,
        hold_id=hold_id,
        client=principal.client_id,
        previous_expires_at=hold["expires_at"],
        expires_at=data.expires_at,
        reason=data.reason,
    )
    await audit.record(
        session=session,
        actor=principal,
        action="hold.renewed",
        object_type="hold",
        object_id=hold_id,
        data={
            "account_id": str(hold["account_id"]),
            "previous_expires_at": rfc3339(hold["expires_at"]),
            "expires_at": rfc3339(data.expires_at),
            "renewal": hold["renewals"] + 1,
        },
        free_text={"reason": data.reason},
    )
    return await get_hold(session=session, principal=principal, hold_id=hold_id)


def _decode_agency_cursor(cursor: str | None) -> tuple[str, uuid.UUID] | None:
    if not cursor:
        return None
    name, agency_id = decode_cursor(cursor, arity=2)
    try:
        return str(name), uuid.UUID(str(agency_id))
    except ValueError as exc:
        raise field_error("cursor", "not a valid cursor") from exc


async def active_holds_by_agency(
    *, session: AsyncSession, cursor: str | None, limit: int, limits: HoldLimits
) -> dict[str, Any]:
    """Operators' view: per agency with active holds, how many and until when, by name."""
    rows = await repo.active_by_agency(
        session, after=_decode_agency_cursor(cursor), limit=limit + 1
    )
    page = rows[:limit]
    nxt = encode_cursor([page[-1][0], str(page[-1][1])]) if len(rows) > limit else None
    return {
        "items": [r[2] for r in page],
        "next_cursor": nxt,
        "max_active_holds": limits.max_active_holds,
        "max_hold_renewals": limits.max_hold_renewals,
    }
