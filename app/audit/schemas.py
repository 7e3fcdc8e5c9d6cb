"""Response models of the audit API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from app.kit.schemas import Omitted


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


class CheckpointOut(BaseModel):
    """A signed statement of the chain's head at one position."""

    seq: int = Field(description="Chain position the checkpoint covers")
    head_hash: str = Field(description="Hex SHA-256 chain hash at that position")
    signed_at: datetime
    kid: str = Field(description="Key (in the JWKS) that signed it")
    signature: str = Field(description="Compact JWS over seq, head_hash and signed_at")


class CheckpointPage(BaseModel):
    """A page of checkpoints, oldest first."""

    items: list[CheckpointOut]
    next_cursor: str | None


class ChainVerification(BaseModel):
    """The chain recomputed: `ok`, or the first entry, checkpoint or archive that disagrees."""

    status: Literal["ok", "mismatch"]
    entries: int = Field(description="Entries checked")
    archived: int = Field(description="Entries checked in archives of dropped partitions")
    head: str | None = Field(description="Hex chain hash of the last entry checked")
    first_bad_seq: int | None
    first_bad_position: int | None
    problem: str | None
    checkpoint: CheckpointOut | Omitted = Field(
        default=None, description="Present when a checkpoint does not match the chain"
    )
    archive: str | Omitted = Field(
        default=None, description="Present when an archive record is forged or altered"
    )
