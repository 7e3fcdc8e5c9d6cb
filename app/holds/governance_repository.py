"""Every SQL statement of hold governance: the active-holds limit, renewals, the operators' view.

Kept apart from app/holds/repository.py so that the governance rules own their statements;
the hold row itself is still rendered by fb_hold_json through that repository.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.locks import LockNamespace

# What "active" means for a hold, as fb_hold_json shows it: not released and not yet past
# its expiry (a hold past expiry that the sweep has not reached yet is already `expired`).
ACTIVE = "h.released_at IS NULL AND h.expires_at > now()"


async def lock_agency_holds(session: AsyncSession, agency: uuid.UUID) -> None:
    """Serialise the agency's hold creations until the transaction ends, so that counting
    its active holds and inserting one more cannot interleave with another worker's."""
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:g, :ns))"),
        {"g": str(agency), "ns": int(LockNamespace.HOLD_LIMIT)},
    )


async def count_active(session: AsyncSession, agency: uuid.UUID) -> int:
    """How many active holds the agency has."""
    return int(
        (
            await session.execute(
                text(f"SELECT count(*) FROM hold h WHERE h.agency_org_id = :g AND {ACTIVE}"),  # noqa: S608
                {"g": agency},
            )
        ).scalar_one()
    )


async def lock_own_hold(
    session: AsyncSession, *, agency: uuid.UUID, hold_id: uuid.UUID
) -> dict[str, Any] | None:
    """The agency's own hold, locked against concurrent renewals, release and the sweep, with
    whether it is active and how often it was renewed (None if absent or someone else's)."""
    row = (
        (
            await session.execute(
                text(
                    f"SELECT h.id, h.account_id, h.expires_at, ({ACTIVE}) AS active, "  # noqa: S608
                    "(SELECT count(*) FROM hold_renewal r WHERE r.hold_id = h.id) AS renewals "
                    "FROM hold h WHERE h.id = :id AND h.agency_org_id = :g FOR UPDATE OF h"
                ),
                {"id": hold_id, "g": agency},
            )
        )
        .mappings()
        .first()
    )
    return dict(row) if row else None


async def renew(
    session: AsyncSession,
    *,
    hold_id: uuid.UUID,
    client: uuid.UUID,
    previous_expires_at: datetime,
    expires_at: datetime,
    reason: str | None,
) -> None:
    """Move the hold's expiry and record the renewal (the expiry sweep reads the column)."""
    await session.execute(
        text("UPDATE hold SET expires_at = :e WHERE id = :id"), {"id": hold_id, "e": expires_at}
    )
    await session.execute(
        text(
            "INSERT INTO hold_renewal (hold_id, renewed_by_client_id, previous_expires_at, "
            "expires_at, reason) VALUES (:id, :c, :p, :e, :r)"
        ),
        {"id": hold_id, "c": client, "p": previous_expires_at, "e": expires_at, "r": reason},
    )


async def renewals(session: AsyncSession, hold_id: uuid.UUID) -> list[dict[str, Any]]:
    """The hold's renewals as JSON, oldest first."""
    raw = (
        await session.execute(
            text(
                "SELECT coalesce(jsonb_agg(jsonb_build_object("
                "'renewed_at', fb_ts(r.renewed_at), "
                "'previous_expires_at', fb_ts(r.previous_expires_at), "
                "'expires_at', fb_ts(r.expires_at), 'reason', r.reason) ORDER BY r.id), "
                "'[]'::jsonb)::text FROM hold_renewal r WHERE r.hold_id = :id"
            ),
            {"id": hold_id},
        )
    ).scalar_one()
    return list(json.loads(raw))


async def active_by_agency(
    session: AsyncSession, *, after: tuple[str, uuid.UUID] | None, limit: int
) -> list[tuple[str, uuid.UUID, dict[str, Any]]]:
    """Per agency with active holds, by name: how many, their expiry range and renewals.

    Only counts and times leave this query: never a reason or an account.
    """
    cond = "WHERE (o.name, o.id) > (:name, :id)" if after else ""
    params: dict[str, Any] = {"limit": limit}
    if after:
        params["name"], params["id"] = after
    rows = await session.execute(
        text(
            f"""
            SELECT o.name, o.id, jsonb_build_object(
                'agency_id', o.id, 'name', o.name, 'country', o.country,
                'active_holds', a.active_holds,
                'soonest_expiry', fb_ts(a.soonest_expiry),
                'latest_expiry', fb_ts(a.latest_expiry),
                'renewals', a.renewals)::text
            FROM (
                SELECT h.agency_org_id, count(*) AS active_holds,
                       min(h.expires_at) AS soonest_expiry, max(h.expires_at) AS latest_expiry,
                       sum((SELECT count(*) FROM hold_renewal r WHERE r.hold_id = h.id))
                           AS renewals
                FROM hold h WHERE {ACTIVE}
                GROUP BY h.agency_org_id
            ) a
            JOIN organization o ON o.id = a.agency_org_id
            {cond}
            ORDER BY o.name, o.id
            LIMIT :limit
            """  # noqa: S608
        ),
        params,
    )
    return [(r[0], r[1], json.loads(r[2])) for r in rows]
