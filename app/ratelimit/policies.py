"""Per-organisation budgets: the operators' overrides, cached in every process."""

from __future__ import annotations

import logging
import uuid

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.audit import service as audit
from app.auth.principal import Principal
from app.config import Settings
from app.db import after_commit
from app.errors import NotFound
from app.models import Organization, RateLimitPolicy
from app.ratelimit import repository
from app.ratelimit.schemas import RateLimits, RateLimitsOut, RateLimitsUpdate

log = logging.getLogger(__name__)


class PolicyCache:
    """Every organisation's effective budgets, re-read every `rate_policy_refresh_seconds`.

    Overrides are few (one row per organisation an operator singled out) and change
    rarely, so every process keeps all of them; a change made through another process
    applies here within one refresh.
    """

    def __init__(self, settings: Settings) -> None:
        self.defaults = RateLimits(
            writes_per_minute=settings.rate_writes_per_minute,
            reads_per_minute=settings.rate_reads_per_minute,
            long_poll_waiters=settings.rate_long_poll_waiters,
        )
        self._overrides: dict[uuid.UUID, RateLimits] = {}

    def of(self, org_id: uuid.UUID) -> RateLimits:
        """The budgets of an organisation's clients."""
        return self._overrides.get(org_id, self.defaults)

    def apply(self, org_id: uuid.UUID, update: RateLimitsUpdate) -> RateLimits:
        """Take an organisation's overrides into account; its effective budgets."""
        effective = self.defaults.model_copy(update=update.model_dump(exclude_none=True))
        if effective == self.defaults:
            self._overrides.pop(org_id, None)
        else:
            self._overrides[org_id] = effective
        return effective

    async def refresh(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        """Re-read every override."""
        async with sessionmaker() as session:
            rows = await repository.all_policies(session)
        self._overrides = {}
        for row in rows:
            self.apply(row.organization_id, _update_of(row))


def _update_of(row: RateLimitPolicy | None) -> RateLimitsUpdate:
    if row is None:
        return RateLimitsUpdate()
    return RateLimitsUpdate(
        writes_per_minute=row.writes_per_minute,
        reads_per_minute=row.reads_per_minute,
        long_poll_waiters=row.long_poll_waiters,
    )


def _apply(cache: PolicyCache, org_id: uuid.UUID, update: RateLimitsUpdate) -> None:
    cache.apply(org_id, update)


async def _organization(session: AsyncSession, org_id: uuid.UUID) -> Organization:
    org = await session.get(Organization, org_id)
    if org is None:
        raise NotFound("No such organisation")
    return org


async def show(*, session: AsyncSession, cache: PolicyCache, org_id: uuid.UUID) -> RateLimitsOut:
    """An organisation's rate limits (404 if there is no such organisation)."""
    await _organization(session, org_id)
    overrides = _update_of(await repository.policy_of(session, org_id))
    effective = cache.defaults.model_copy(update=overrides.model_dump(exclude_none=True))
    return RateLimitsOut(organization_id=org_id, effective=effective, overrides=overrides)


async def set_limits(
    *,
    session: AsyncSession,
    cache: PolicyCache,
    actor: Principal | None,
    org_id: uuid.UUID,
    update: RateLimitsUpdate,
    actor_label: str | None = None,
) -> RateLimitsOut:
    """Replace an organisation's overrides (null fields fall back to the defaults); audited."""
    await _organization(session, org_id)
    values = update.model_dump()
    await repository.save_policy(session, org_id, values)
    await audit.record(
        session=session,
        actor=actor,
        actor_label=actor_label,
        action="organization.rate_limits_set",
        object_type="organization",
        object_id=org_id,
        data=values,
    )
    # This process applies the change once it is committed; the others on their next refresh.
    after_commit(session, lambda: _apply(cache, org_id, update))
    effective = cache.defaults.model_copy(update=update.model_dump(exclude_none=True))
    return RateLimitsOut(organization_id=org_id, effective=effective, overrides=update)
