"""Writing audit entries."""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.observability import client_ip_var, request_id_var

# The row is built by fb_audit_record_many (app/audit/sql/record_many.sql), the function
# the submission statement reaches through fb_audit_record, so every path writes entries
# the same way; a set of entries is one statement.
_RECORD_MANY = text("SELECT fb_audit_record_many(CAST(:entries AS jsonb))")


def entry(
    *,
    actor: Principal | None,
    action: str,
    object_type: str,
    object_id: uuid.UUID | str | None = None,
    data: dict[str, Any] | None = None,
    actor_label: str | None = None,
    free_text: dict[str, str | None] | None = None,
) -> dict[str, Any]:
    """One audit entry as fb_audit_record_many takes it, with the request's id and client IP
    (a statement may leave object_id out and add it per row)."""
    return {
        "actor_client": str(actor.client_id) if actor else None,
        "actor_org": str(actor.org_id) if actor else None,
        "actor_label": actor_label,
        "client_ip": client_ip_var.get(),
        "request_id": request_id_var.get(),
        "action": action,
        "object_type": object_type,
        "object_id": None if object_id is None else str(object_id),
        "data": data or {},
        "free_text": free_text or {},
    }


async def record_many(*, session: AsyncSession, entries: list[dict[str, Any]]) -> None:
    """Insert audit entries (from `entry`) in the caller's transaction, in one statement."""
    if entries:
        await session.execute(_RECORD_MANY, {"entries": json.dumps(entries)})


async def record(
    *,
    session: AsyncSession,
    actor: Principal | None,
    action: str,
    object_type: str,
    object_id: uuid.UUID | str,
    data: dict[str, Any] | None = None,
    actor_label: str | None = None,
    free_text: dict[str, str | None] | None = None,
) -> None:
    """Insert one audit entry in the caller's transaction (no extra round trip of its own
    beyond the statement; it commits or rolls back with the change it describes).

    `free_text` names texts that the log keeps only as `<name>_sha256` (hashed in SQL by
    fb_audit_record_many, the one place that hashes them).
    """
    await record_many(
        session=session,
        entries=[
            entry(
                actor=actor,
                action=action,
                object_type=object_type,
                object_id=object_id,
                data=data,
                actor_label=actor_label,
                free_text=free_text,
            )
        ],
    )
