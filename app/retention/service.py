"""Running retention: one transaction, one run at a time, audited with its counts."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.audit import service as audit
from app.kit.clock import rfc3339, utc_now
from app.retention import repository as repo

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetentionRun:
    """What one run removed (or, dry, would remove)."""

    days: int
    cutoff: datetime
    feed_cutoff: datetime
    dry_run: bool
    counts: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        """The run as JSON (also the audit entry's data)."""
        return {
            "days": self.days,
            "cutoff": rfc3339(self.cutoff),
            "feed_cutoff": rfc3339(self.feed_cutoff),
            "dry_run": self.dry_run,
            **self.counts,
        }


async def run(
    *,
    sessionmaker: async_sessionmaker[AsyncSession],
    days: int,
    feed_days: int,
    dry_run: bool = False,
    actor_label: str = "system",
    now: datetime | None = None,
) -> RetentionRun | None:
    """Remove personal data of flags and holds that ended more than `days` ago, and feed
    events older than `feed_days`; None if another process is running retention now.

    A dry run does the same work in a transaction it rolls back, so its counts are exactly
    what a real run would remove at that moment, and nothing changes.
    """
    now = now or utc_now()
    done = RetentionRun(
        days=days,
        cutoff=now - timedelta(days=days),
        feed_cutoff=now - timedelta(days=feed_days),
        dry_run=dry_run,
    )
    async with sessionmaker() as session:
        # Leaving this block without commit() rolls back: a busy lock, a dry run or an error.
        await session.begin()
        if not await repo.try_lock(session):
            return None
        counts = await repo.purge(session, cutoff=done.cutoff, feed_cutoff=done.feed_cutoff)
        done = replace(done, counts=counts)
        if dry_run:
            return done
        await audit.record(
            session=session,
            actor=None,
            actor_label=actor_label,
            action="retention.run",
            object_type="retention",
            object_id=str(rfc3339(done.cutoff)),
            data=done.as_dict(),
        )
        await session.commit()
    log.info("retention run", extra={"retention": done.as_dict()})
    return done
