"""Every SQL statement of the rate limiter (counters, back-off, long-poll slots, policies)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.locks import LockNamespace
from app.models import RateLimitPolicy

# One statement adds every count a process gathered since its last flush and returns the
# fleet-wide totals. Rows are sorted so that two processes flushing the same keys lock them
# in the same order (no deadlock).
_ADD_HITS = text(
    """
    INSERT INTO rate_limit_window AS w (bucket, key, window_start, hits)
    SELECT b, k, s, h
    FROM unnest(CAST(:buckets AS text[]), CAST(:keys AS text[]),
                CAST(:starts AS timestamptz[]), CAST(:hits AS integer[])) AS t(b, k, s, h)
    ORDER BY b, k, s
    ON CONFLICT (bucket, key, window_start) DO UPDATE SET hits = w.hits + excluded.hits
    RETURNING bucket, key, window_start, hits
    """
)


async def add_hits(
    session: AsyncSession, rows: Sequence[tuple[str, str, datetime, int]]
) -> list[tuple[str, str, datetime, int]]:
    """Add counts to their windows; the fleet-wide total of each window after adding."""
    result = await session.execute(
        _ADD_HITS,
        {
            "buckets": [r[0] for r in rows],
            "keys": [r[1] for r in rows],
            "starts": [r[2] for r in rows],
            "hits": [r[3] for r in rows],
        },
    )
    return [(r[0], r[1], r[2], int(r[3])) for r in result.all()]


async def prune(session: AsyncSession, *, before: datetime) -> None:
    """Forget windows, back-offs and long-poll slots that ended before `before`."""
    await session.execute(
        text("DELETE FROM rate_limit_window WHERE window_start < :t"), {"t": before}
    )
    await session.execute(
        text("DELETE FROM rate_limit_backoff WHERE greatest(last_failure_at, blocked_until) < :t"),
        {"t": before},
    )
    await session.execute(
        text("DELETE FROM rate_limit_waiter WHERE expires_at < :t"), {"t": before}
    )


async def backoff_of(session: AsyncSession, key: str) -> tuple[int, datetime | None] | None:
    """A client id's failures and the end of its back-off, if it has failed lately."""
    row = (
        await session.execute(
            text("SELECT failures, blocked_until FROM rate_limit_backoff WHERE key = :k"),
            {"k": key},
        )
    ).first()
    return (int(row[0]), row[1]) if row else None


async def count_failure(
    session: AsyncSession, *, key: str, now: datetime, forget_before: datetime
) -> int:
    """Count one failed token request; the failures counted, restarting after a quiet spell."""
    row = (
        await session.execute(
            text(
                """
                INSERT INTO rate_limit_backoff AS b (key, failures, last_failure_at)
                VALUES (:k, 1, :now)
                ON CONFLICT (key) DO UPDATE SET
                    failures = CASE
                        WHEN greatest(b.last_failure_at, b.blocked_until) < :forget THEN 1
                        ELSE b.failures + 1 END,
                    blocked_until = CASE
                        WHEN greatest(b.last_failure_at, b.blocked_until) < :forget THEN NULL
                        ELSE b.blocked_until END,
                    last_failure_at = :now
                RETURNING failures
                """
            ),
            {"k": key, "now": now, "forget": forget_before},
        )
    ).one()
    return int(row[0])


async def block_until(session: AsyncSession, *, key: str, until: datetime) -> None:
    """Refuse a client id until `until`."""
    await session.execute(
        text("UPDATE rate_limit_backoff SET blocked_until = :u WHERE key = :k"),
        {"k": key, "u": until},
    )


async def forget_failures(session: AsyncSession, key: str) -> None:
    """A successful token request: the client id starts afresh."""
    await session.execute(text("DELETE FROM rate_limit_backoff WHERE key = :k"), {"k": key})


async def take_waiter_slot(
    session: AsyncSession,
    *,
    slot: uuid.UUID,
    client_id: uuid.UUID,
    limit: int,
    now: datetime,
    expires_at: datetime,
) -> bool:
    """Register a long-poll if the client has fewer than `limit` live ones fleet-wide."""
    # The lock serialises one client's admissions; it is taken in its own statement so the
    # count below reads a snapshot that includes every admission committed before it.
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:c, :ns))"),
        {"c": str(client_id), "ns": int(LockNamespace.LONG_POLL_WAITERS)},
    )
    row = (
        await session.execute(
            text(
                """
                INSERT INTO rate_limit_waiter (id, client_id, expires_at)
                SELECT :id, :c, :exp
                WHERE (SELECT count(*) FROM rate_limit_waiter
                       WHERE client_id = :c AND expires_at > :now) < :limit
                RETURNING id
                """
            ),
            {"id": slot, "c": client_id, "exp": expires_at, "now": now, "limit": limit},
        )
    ).first()
    return row is not None


async def release_waiter_slot(session: AsyncSession, slot: uuid.UUID) -> None:
    """A long-poll ended."""
    await session.execute(text("DELETE FROM rate_limit_waiter WHERE id = :id"), {"id": slot})


async def all_policies(session: AsyncSession) -> list[RateLimitPolicy]:
    """Every organisation's overrides."""
    return list((await session.execute(select(RateLimitPolicy))).scalars())


async def policy_of(session: AsyncSession, org_id: uuid.UUID) -> RateLimitPolicy | None:
    """One organisation's overrides, if any."""
    return await session.get(RateLimitPolicy, org_id)


async def save_policy(session: AsyncSession, org_id: uuid.UUID, values: dict[str, Any]) -> None:
    """Store an organisation's overrides (all NULL removes them)."""
    if all(v is None for v in values.values()):
        await session.execute(
            delete(RateLimitPolicy).where(RateLimitPolicy.organization_id == org_id)
        )
        return
    stmt = insert(RateLimitPolicy).values(organization_id=org_id, **values)
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[RateLimitPolicy.organization_id],
            set_={**values, "updated_at": text("now()")},
        )
    )
