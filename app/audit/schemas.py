"""Response models of the audit API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel


class ActorOut(BaseModel):
    """Who made the change: a client of an organisation, or the system / a CLI user."""

    client_id: uuid.UUID | None
    organization_id: uuid.UUID | None
    label: str | None


class AuditEntryOut(BaseModel):
    """One audit entry."""

    seq: int
    at: datetime
    actor: ActorOut
    client_ip: str | None
    request_id: str | None
    action: str
    object_type: str
    object_id: str
    data: dict[str, Any]


class AuditPage(BaseModel):
    """A page of audit entries, oldest first."""

    items: list[AuditEntryOut]
    next_cursor: str | None
