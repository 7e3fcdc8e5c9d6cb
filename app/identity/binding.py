"""Platforms are the authority on identity: binding what a platform states about an account.

When a platform acknowledges or answers a flag it may state the account's stable id and its
current handle. `plan` works out what that means without changing anything: keys to bind
(the handle moves to this account, the account's older handles are released), or another
account the id already names, which is then merged into this one. Two live flags of one
agency cannot share an account (uq_flag_agency_account_live), so a merge first lists the
later of each such pair: the flags domain withdraws them as duplicates (history event,
feed, audit) before `apply` moves keys, flags and holds.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import field_error
from app.identity import repository as repo
from app.identity.canonical import IdentityError, canonicalise_account
from app.identity.service import profile_for


@dataclass
class Plan:
    """What a platform's statement changes about one flag's account."""

    platform: str
    account_id: uuid.UUID
    bind: list[str] = field(default_factory=list)
    release: list[str] = field(default_factory=list)
    merge_from: uuid.UUID | None = None
    # (later flag, the earlier flag of the same agency it duplicates)
    duplicates: list[tuple[dict[str, Any], uuid.UUID]] = field(default_factory=list)
    stated: dict[str, str | None] = field(default_factory=dict)

    @property
    def changes(self) -> bool:
        """Whether applying it changes anything."""
        return bool(self.bind or self.release or self.merge_from)


async def plan(session: AsyncSession, *, flag: dict[str, Any], account: dict[str, Any]) -> Plan:
    """What binding the platform's statement about the flag's account would do."""
    platform, current = flag["platform"], flag["account_id"]
    try:
        identity = canonicalise_account(await profile_for(session, platform), account)
    except IdentityError as exc:
        raise field_error(exc.field, exc.message) from None
    keys = identity.key_list()
    bound = await repo.accounts_of_keys(session, platform=platform, keys=keys)
    others = sorted({a for a in bound.values() if a != current})
    await repo.lock_accounts(session, [current, *others])
    result = Plan(platform=platform, account_id=current, stated=identity.ref)
    id_key = next((k for k in keys if k.startswith("id:")), None)
    handle_key = next((k for k in keys if k.startswith("handle:")), None)
    if id_key is not None:
        owner = bound.get(id_key)
        if owner is None:
            old = await repo.id_key_of(session, current)
            if old is not None:
                result.release.append(old)  # the platform's word replaces an agency's
            result.bind.append(id_key)
        elif owner != current:
            result.merge_from = owner
            live = await repo.live_flags_by_agency(session, [current, owner])
            first: dict[uuid.UUID, uuid.UUID] = {}
            for f in live:
                kept = first.setdefault(f["agency_org_id"], f["id"])
                if kept != f["id"]:
                    result.duplicates.append((f, kept))
    if handle_key is not None and bound.get(handle_key) != current:
        result.bind.append(handle_key)
        for key in await repo.handle_keys_of(session, current):
            if key != handle_key:
                result.release.append(key)
    return result


async def apply(session: AsyncSession, plan: Plan) -> None:
    """Carry the plan out (its duplicates already withdrawn)."""
    if plan.merge_from is not None:
        await repo.move_account(session, source=plan.merge_from, target=plan.account_id)
    for key in plan.release:
        await repo.release_key(session, platform=plan.platform, key=key)
    for key in plan.bind:
        await repo.bind_key(session, platform=plan.platform, key=key, account_id=plan.account_id)
