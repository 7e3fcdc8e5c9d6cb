"""Every SQL statement about holds."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession


async def no_such_platform(session: AsyncSession, platform: str) -> dict[str, Any] | None:
    """The 422 problem for a platform nobody registered, else None (the rule and its words
    are fb_platform_org and fb_no_such_platform, shared with submission)."""
    raw = (
        await session.execute(
            text("SELECT fb_no_such_platform(:p)::text WHERE fb_platform_org(:p) IS NULL"),
            {"p": platform},
        )
    ).scalar()
    return None if raw is None else dict(json.loads(raw))


async def insert_hold(
    session: AsyncSession,
    *,
    agency: uuid.UUID,
    client: uuid.UUID,
    country: str,
    platform: str,
    identity: dict[str, Any],
    reason: str,
    expires_at: datetime,
) -> tuple[uuid.UUID | None, uuid.UUID | None, dict[str, Any] | None]:
    """Create a hold, resolving the account by its canonical keys (fb_resolve_account).

    Returns (hold id, account id, None), or (None, None, the 409 problem) when the keys
    conflict, having changed nothing. Runs in a savepoint retried once: losing a race to
    bind the same key raises a unique violation, and the retry finds the committed key.
    """
    params = {
        "g": agency,
        "c": client,
        "cc": country,
        "p": platform,
        "keys": json.dumps(identity["keys"]),
        "ref": json.dumps(identity["ref"]),
        "r": reason,
        "e": expires_at,
    }
    for attempt in range(2):
        try:
            async with session.begin_nested():
                row = (
                    await session.execute(
                        text(
                            "WITH acct AS (SELECT * FROM fb_resolve_account(:p, "
                            "CAST(:keys AS jsonb))), ins AS ("
                            "INSERT INTO hold (agency_org_id, created_by_client_id, country, "
                            "platform, account_id, account_ref, reason, expires_at) "
                            "SELECT :g, :c, :cc, :p, acct.account_id, CAST(:ref AS jsonb), :r, :e "
                            "FROM acct WHERE acct.conflict IS NULL RETURNING id, account_id) "
                            "SELECT ins.id, ins.account_id, "
                            "fb_account_conflict(acct.conflict)::text "
                            "FROM acct LEFT JOIN ins ON TRUE"
                        ),
                        params,
                    )
                ).one()
                problem = json.loads(row[2]) if row[2] is not None else None
                return row[0], row[1], problem
        except IntegrityError:
            if attempt == 1:
                raise
    raise AssertionError("unreachable")


async def render(session: AsyncSession, hold_id: uuid.UUID) -> dict[str, Any]:
    """The hold as JSON."""
    raw = (
        await session.execute(
            text("SELECT fb_hold_json(h)::text FROM hold h WHERE h.id = :id"), {"id": hold_id}
        )
    ).scalar_one()
    return dict(json.loads(raw))


async def get_own(
    session: AsyncSession, *, agency: uuid.UUID, hold_id: uuid.UUID, for_update: bool = False
) -> dict[str, Any] | None:
    """The agency's own hold (None if absent or someone else's)."""
    lock = " FOR UPDATE" if for_update else ""
    row = (
        (
            await session.execute(
                text("SELECT * FROM hold WHERE id = :id AND agency_org_id = :g" + lock),  # noqa: S608
                {"id": hold_id, "g": agency},
            )
        )
        .mappings()
        .first()
    )
    return dict(row) if row else None


async def list_own(
    session: AsyncSession,
    *,
    agency: uuid.UUID,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> list[tuple[datetime, uuid.UUID, dict[str, Any]]]:
    """The agency's holds, newest first."""
    cond = "AND (h.created_at, h.id) < (:ts, :id)" if after else ""
    params: dict[str, Any] = {"g": agency, "limit": limit}
    if after:
        params["ts"], params["id"] = after
    rows = await session.execute(
        text(
            "SELECT h.created_at, h.id, fb_hold_json(h)::text FROM hold h "  # noqa: S608
            f"WHERE h.agency_org_id = :g {cond} "
            "ORDER BY h.created_at DESC, h.id DESC LIMIT :limit"
        ),
        params,
    )
    return [(r[0], r[1], json.loads(r[2])) for r in rows]


async def mark_released(session: AsyncSession, hold_id: uuid.UUID, reason: str) -> None:
    """End a hold now."""
    await session.execute(
        text(
            "UPDATE hold SET released_at = now(), release_reason = :r "
            "WHERE id = :id AND released_at IS NULL"
        ),
        {"id": hold_id, "r": reason},
    )


async def claim_expired(session: AsyncSession, *, limit: int) -> list[dict[str, Any]]:
    """Expired holds not yet processed, locked so that concurrent sweepers skip them."""
    rows = await session.execute(
        text(
            "SELECT id, agency_org_id, account_id FROM hold "
            "WHERE released_at IS NULL AND expires_at <= now() "
            "ORDER BY expires_at LIMIT :n FOR UPDATE SKIP LOCKED"
        ),
        {"n": limit},
    )
    return [dict(r._mapping) for r in rows]


async def orphaned_held_accounts(session: AsyncSession, *, limit: int) -> list[uuid.UUID]:
    """Accounts with held flags that no active hold of another agency covers any more."""
    rows = await session.execute(
        text(
            """
            SELECT DISTINCT f.account_id FROM flag f
            WHERE f.status = 'held'
              AND NOT EXISTS (
                  SELECT 1 FROM hold h
                  WHERE h.account_id = f.account_id AND h.released_at IS NULL
                    AND h.expires_at > now() AND h.agency_org_id <> f.agency_org_id)
            LIMIT :n
            """
        ),
        {"n": limit},
    )
    return [r[0] for r in rows]


async def held_flags_now_free(session: AsyncSession, account_id: uuid.UUID) -> list[dict[str, Any]]:
    """Held flags on the account that no active hold of another agency covers (locked)."""
    rows = await session.execute(
        text(
            """
            SELECT f.* FROM flag f
            WHERE f.account_id = :a AND f.status = 'held'
              AND NOT EXISTS (
                  SELECT 1 FROM hold h
                  WHERE h.account_id = f.account_id AND h.released_at IS NULL
                    AND h.expires_at > now() AND h.agency_org_id <> f.agency_org_id)
            ORDER BY f.submitted_at
            FOR UPDATE OF f
            """
        ),
        {"a": account_id},
    )
    return [dict(r._mapping) for r in rows]
