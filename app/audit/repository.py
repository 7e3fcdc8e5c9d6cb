"""Every SQL statement that reads the audit log."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession


async def list_entries(
    session: AsyncSession,
    *,
    actor: uuid.UUID | None,
    organization: uuid.UUID | None,
    object_id: str | None,
    action: str | None,
    since: datetime | None,
    until: datetime | None,
    after_seq: int,
    limit: int,
) -> list[dict[str, Any]]:
    """Entries in seq order after a cursor, filtered; each filter has an index to use."""
    conds = ["seq > :after"]
    params: dict[str, Any] = {"after": after_seq, "limit": limit}
    for column, value in (
        ("actor_client_id", actor),
        ("actor_org_id", organization),
        ("object_id", object_id),
        ("action", action),
    ):
        if value is not None:
            conds.append(f"{column} = :{column}")
            params[column] = value
    if since is not None:
        conds.append("at >= :since")
        params["since"] = since
    if until is not None:
        conds.append("at < :until")
        params["until"] = until
    rows = await session.execute(
        text(
            # Column names are fixed above; every value is a bound parameter.
            "SELECT seq, at, actor_client_id, actor_org_id, actor_label, client_ip, request_id, "  # noqa: S608
            "action, object_type, object_id, data FROM audit_entry WHERE "
            + " AND ".join(conds)
            + " ORDER BY seq LIMIT :limit"
        ),
        params,
    )
    return [dict(r._mapping) for r in rows]


async def leaves(session: AsyncSession, *, after: int, limit: int) -> list[dict[str, Any]]:
    """Chain links after a position, with their leaf hashes only."""
    rows = await session.execute(
        text(
            "SELECT position, entry_hash FROM audit_seal WHERE position > :after "
            "ORDER BY position LIMIT :limit"
        ),
        {"after": after, "limit": limit},
    )
    return [{"position": r[0], "entry_hash": bytes(r[1]).hex()} for r in rows]
