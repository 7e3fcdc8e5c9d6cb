"""The rules of deadline policies: a country's row overrides the default (`*`) for the
flags it issues from then on; the defaults can be changed but never removed."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.auth.principal import Principal
from app.deadlines import repository as repo
from app.deadlines.schemas import DeadlinePolicy
from app.errors import NotFound, field_error
from app.kit.countries import ISO_3166_ALPHA2
from app.vocabulary import FlagKind, Priority

DEFAULT = "*"


def _country(value: str) -> str:
    country = value.upper()
    if country != DEFAULT and country not in ISO_3166_ALPHA2:
        raise field_error("country", "not an ISO 3166-1 alpha-2 code or *")
    return country


async def _audit(
    session: AsyncSession,
    principal: Principal,
    change: str,
    policy: DeadlinePolicy,
    data: dict[str, Any],
) -> None:
    # A policy row is audited by its key, country/kind/priority.
    await audit.record(
        session=session,
        actor=principal,
        action=f"deadline_policy.{change}",
        object_type="deadline_policy",
        object_id=f"{policy.country}/{policy.kind}/{policy.priority}",
        data=data,
    )


async def list_policies(*, session: AsyncSession) -> list[DeadlinePolicy]:
    """The default deadlines and every country's overrides."""
    return [DeadlinePolicy(**row) for row in await repo.list_all(session)]


async def set_policy(
    *,
    session: AsyncSession,
    principal: Principal,
    country: str,
    kind: FlagKind,
    priority: Priority,
    seconds: int,
) -> DeadlinePolicy:
    """Set the deadline for new flags of a country (or `*`), audited with the old value."""
    cc = _country(country)
    old = await repo.seconds_of(session, country=cc, kind=kind, priority=priority)
    await repo.upsert(session, country=cc, kind=kind, priority=priority, seconds=seconds)
    policy = DeadlinePolicy(country=cc, kind=kind, priority=priority, seconds=seconds)
    await _audit(session, principal, "set", policy, {"seconds": seconds, "previous_seconds": old})
    return policy


async def delete_policy(
    *, session: AsyncSession, principal: Principal, country: str, kind: FlagKind, priority: Priority
) -> None:
    """Remove a country's override so the default applies again (404 when there is none)."""
    cc = _country(country)
    if cc == DEFAULT:
        raise field_error("country", "the default cannot be removed; set it")
    deleted = await repo.delete_row(session, country=cc, kind=kind, priority=priority)
    if deleted is None:
        raise NotFound("No such policy")
    policy = DeadlinePolicy(country=cc, kind=kind, priority=priority, seconds=deleted)
    await _audit(session, principal, "deleted", policy, {"previous_seconds": deleted})
