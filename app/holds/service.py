"""The rules of holds: who may hold what, for how long, and what a release sets free."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.audit import service as audit
from app.auth.principal import Principal
from app.db import after_commit
from app.errors import NotFound, Unprocessable
from app.flags import service as flags
from app.holds import repository as repo
from app.holds.expiry import check_expiry
from app.holds.schemas import HoldCreate
from app.identity import service as identity
from app.kit.clock import utc_now
from app.kit.pagination import decode_time_id_cursor, keyset_page

log = logging.getLogger(__name__)

Poke = Callable[[list[str]], None]


async def _audit(
    session: AsyncSession,
    *,
    actor: Principal | None,
    action: str,
    hold_id: uuid.UUID,
    account_id: uuid.UUID,
    **data: Any,
) -> None:
    """The audit entry of a hold's change (a change without an actor is the system's)."""
    await audit.record(
        session=session,
        actor=actor,
        actor_label=None if actor else "system",
        action=action,
        object_type="hold",
        object_id=hold_id,
        data={**data, "account_id": str(account_id)},
    )


async def create_hold(
    *, session: AsyncSession, principal: Principal, data: HoldCreate
) -> dict[str, Any]:
    """Place a hold on an account for at most 90 days."""
    now = utc_now()
    check_expiry(data.expires_at, now=now)
    problem = await repo.no_such_platform(session, data.platform)
    if problem is not None:
        raise Unprocessable(problem["detail"], errors=problem["errors"])
    assert principal.country is not None
    profile = await identity.profile_for(session, data.platform)
    hold_id, account_id, conflict = await repo.insert_hold(
        session,
        agency=principal.org_id,
        client=principal.client_id,
        country=principal.country,
        platform=data.platform,
        identity=identity.identity_of(profile, data.account.model_dump()),
        reason=data.reason,
        expires_at=data.expires_at,
    )
    if conflict is not None:
        raise identity.conflict_from_problem(conflict)
    assert hold_id is not None and account_id is not None
    await _audit(
        session,
        actor=principal,
        action="hold.created",
        hold_id=hold_id,
        account_id=account_id,
        platform=data.platform,
        expires_at=data.expires_at.isoformat(),
    )
    return await repo.render(session, hold_id)


async def list_holds(
    *, session: AsyncSession, principal: Principal, cursor: str | None, limit: int
) -> tuple[list[dict[str, Any]], str | None]:
    """A page of the agency's holds, newest first."""
    rows = await repo.list_own(
        session, agency=principal.org_id, after=decode_time_id_cursor(cursor), limit=limit + 1
    )
    page, nxt = keyset_page(rows, limit, lambda r: (r[0], r[1]))
    return [r[2] for r in page], nxt


async def get_hold(
    *, session: AsyncSession, principal: Principal, hold_id: uuid.UUID
) -> dict[str, Any]:
    """One of the agency's holds (404 for anyone else's)."""
    if await repo.get_own(session, agency=principal.org_id, hold_id=hold_id) is None:
        raise NotFound("No such hold")
    return await repo.render(session, hold_id)


async def _release_account(
    session: AsyncSession, *, actor: Principal | None, account_id: uuid.UUID, reason: str
) -> set[str]:
    woken: set[str] = set()
    for flag in await repo.held_flags_now_free(session, account_id):
        orgs = await flags.release_held_flag(session=session, actor=actor, flag=flag, reason=reason)
        woken |= {str(o) for o in orgs}
    return woken


async def release_hold(
    *, session: AsyncSession, principal: Principal, hold_id: uuid.UUID, poke: Poke | None = None
) -> dict[str, Any]:
    """End a hold now; flags it held (and no other hold covers) open and reach the platform."""
    hold = await repo.get_own(session, agency=principal.org_id, hold_id=hold_id, for_update=True)
    if hold is None:
        raise NotFound("No such hold")
    if hold["released_at"] is None:
        await repo.mark_released(session, hold_id, "released")
        await _audit(
            session,
            actor=principal,
            action="hold.released",
            hold_id=hold_id,
            account_id=hold["account_id"],
        )
        woken = await _release_account(
            session, actor=principal, account_id=hold["account_id"], reason="hold released"
        )
        if poke is not None and woken:
            after_commit(session, lambda: poke(sorted(woken)))
    return await repo.render(session, hold_id)


async def sweep_expired_holds(
    *, sessionmaker: async_sessionmaker[AsyncSession], poke: Poke | None = None, batch: int = 100
) -> int:
    """Process holds past expiry: release the flags they held. Safe with many workers
    (rows are claimed with SKIP LOCKED). Returns how many holds were processed."""
    total = 0
    while True:
        woken: set[str] = set()
        async with sessionmaker() as session, session.begin():
            expired = await repo.claim_expired(session, limit=batch)
            for hold in expired:
                await repo.mark_released(session, hold["id"], "expired")
                await _audit(
                    session,
                    actor=None,
                    action="hold.expired",
                    hold_id=hold["id"],
                    account_id=hold["account_id"],
                )
                woken |= await _release_account(
                    session, actor=None, account_id=hold["account_id"], reason="hold expired"
                )
        if poke is not None and woken:
            poke(sorted(woken))
        total += len(expired)
        if len(expired) < batch:
            break
    # Safety net: open held flags no hold covers (e.g. left behind by a crash mid-release).
    async with sessionmaker() as session, session.begin():
        woken = set()
        for account_id in await repo.orphaned_held_accounts(session, limit=batch):
            woken |= await _release_account(
                session, actor=None, account_id=account_id, reason="no hold covers it"
            )
    if poke is not None and woken:
        poke(sorted(woken))
    return total
