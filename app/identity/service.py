"""The rules of account identity around the database: which profile a platform follows,
a submission's canonical keys, and the 409 when keys contradict what is known."""

from __future__ import annotations

from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import Conflict, field_error
from app.identity import repository as repo
from app.identity.canonical import IdentityError, canonicalise_account


class AccountConflict(Conflict, status=409, slug="account-conflict", title="Conflict"):
    """The identifiers sent name different accounts, or contradict the account's id."""

    def __init__(self, detail: str, *, errors: list[dict[str, str]]) -> None:
        super().__init__(detail, errors=errors)


def conflict_from_problem(problem: dict[str, Any]) -> AccountConflict:
    """The error for a conflict problem document built in SQL (fb_account_conflict)."""
    return AccountConflict(problem["detail"], errors=problem["errors"])


def identity_of(profile: str | None, account: dict[str, Any]) -> dict[str, Any]:
    """What the SQL functions take about the account: the profile used, keys with fields,
    and the canonical form of what was sent. A misfit is a 422 naming the field."""
    try:
        identity = canonicalise_account(profile, account)
    except IdentityError as exc:
        raise field_error(exc.field, exc.message) from None
    return {"profile": profile, **identity.as_json()}


async def profile_for(session: AsyncSession, platform: str) -> str | None:
    """The platform's identity profile (None if no platform has that slug)."""
    return (await repo.profiles_of(session, {platform})).get(platform)


class ProfileDirectory:
    """Each platform's identity profile, cached per process for the submission hot path.

    A stale entry is harmless: fb_submit_flag compares the profile the keys were computed
    with against the platform's own and asks for a recomputation (`forget`) on a mismatch.
    """

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self._profiles: dict[str, str] = {}

    async def profile_of(self, platform: str) -> str | None:
        """The platform's profile, loading the directory on a miss."""
        if platform not in self._profiles:
            await self.forget()
        return self._profiles.get(platform)

    async def forget(self) -> None:
        """Reload every platform's profile."""
        rows = await self.pool.fetch(
            "SELECT platform, identity_profile FROM organization WHERE kind = 'platform'"
        )
        self._profiles = {r["platform"]: r["identity_profile"] for r in rows}
