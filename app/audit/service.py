"""Writing audit entries."""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.observability import client_ip_var, request_id_var

# The row is built by fb_audit_record (app/audit/sql/record.sql), the same function the
# submission statement calls, so both paths write entries the same way.
_RECORD = text(
    "SELECT fb_audit_record(:client, :org, :label, :ip, :rid, :action, :object_type, "
    ":object_id, CAST(:data AS jsonb), CAST(:free_text AS jsonb))"
)


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
    fb_audit_record, the one place that hashes them).
    """
    await session.execute(
        _RECORD,
        {
            "client": actor.client_id if actor else None,
            "org": actor.org_id if actor else None,
            "label": actor_label,
            "ip": client_ip_var.get(),
            "rid": request_id_var.get(),
            "action": action,
            "object_type": object_type,
            "object_id": str(object_id),
            "data": json.dumps(data or {}),
            "free_text": json.dumps(free_text or {}),
        },
    )
