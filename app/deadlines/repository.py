"""Every SQL statement of deadline policies (Core against `app.models.DeadlinePolicy`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import DeadlinePolicy as Policy

_KEY = (Policy.country, Policy.kind, Policy.priority)


def _is(country: str, kind: str, priority: str) -> Any:
    return (Policy.country == country) & (Policy.kind == kind) & (Policy.priority == priority)


async def list_all(session: AsyncSession) -> list[dict[str, Any]]:
    """Every policy row, the defaults (`*`) first, then by country, kind and priority."""
    rows = await session.execute(
        select(*_KEY, Policy.seconds).order_by(Policy.country != "*", *_KEY)
    )
    return [dict(r._mapping) for r in rows]


async def seconds_of(
    session: AsyncSession, *, country: str, kind: str, priority: str
) -> int | None:
    """The deadline a policy row sets now, None when there is no row."""
    stmt = select(Policy.seconds).where(_is(country, kind, priority))
    return (await session.execute(stmt)).scalar()


async def upsert(
    session: AsyncSession, *, country: str, kind: str, priority: str, seconds: int
) -> None:
    """Create the policy row or change its deadline."""
    stmt = insert(Policy).values(country=country, kind=kind, priority=priority, seconds=seconds)
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=list(_KEY),
            set_={"seconds": stmt.excluded.seconds, "updated_at": func.now()},
        )
    )


async def delete_row(
    session: AsyncSession, *, country: str, kind: str, priority: str
) -> int | None:
    """Delete a policy row; returns the deadline it set, None when there was none."""
    stmt = delete(Policy).where(_is(country, kind, priority)).returning(Policy.seconds)
    return (await session.execute(stmt)).scalar()
