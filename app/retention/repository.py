"""The statements of retention: the lock and the purge (fb_retention_purge, sql/purge.sql)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.locks import AdvisoryLock


async def try_lock(session: AsyncSession) -> bool:
    """Take the retention lock for this transaction; False if another run holds it."""
    got = await session.execute(
        text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": int(AdvisoryLock.RETENTION)}
    )
    return bool(got.scalar())


async def purge(
    session: AsyncSession, *, cutoff: datetime, feed_cutoff: datetime
) -> dict[str, int]:
    """Remove what is past the cutoffs; the counts of what was removed."""
    got = await session.execute(
        text("SELECT fb_retention_purge(:cutoff, :feed_cutoff)"),
        {"cutoff": cutoff, "feed_cutoff": feed_cutoff},
    )
    counts: dict[str, int] = got.scalar_one()
    return counts
