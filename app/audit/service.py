"""Writing audit entries."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.models import AuditEntry
from app.observability import client_ip_var, request_id_var


async def record(
    *,
    session: AsyncSession,
    actor: Principal | None,
    action: str,
    object_type: str,
    object_id: uuid.UUID | str,
    data: dict[str, Any] | None = None,
    actor_label: str | None = None,
) -> None:
    """Insert one audit entry in the caller's transaction (no extra round trip of its own
    beyond the INSERT; it commits or rolls back with the change it describes)."""
    await session.execute(
        insert(AuditEntry).values(
            actor_client_id=actor.client_id if actor else None,
            actor_org_id=actor.org_id if actor else None,
            actor_label=actor_label,
            client_ip=client_ip_var.get(),
            request_id=request_id_var.get(),
            action=action,
            object_type=object_type,
            object_id=str(object_id),
            data=data or {},
        )
    )
