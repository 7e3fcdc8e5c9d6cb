"""Response models of the audit API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.kit.schemas import Omitted, StrictModel


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


class WitnessOut(BaseModel):
    """An organisation whose co-signature of the newest checkpoint verifies."""

    organization_id: uuid.UUID
    organization_name: str
    kind: str
    kid: str = Field(description="Thumbprint of the witness key it co-signed with")
    cosigned_at: datetime


class ChainVerification(BaseModel):
    """The chain recomputed: `ok`, or the first entry, checkpoint or archive that disagrees."""

    status: Literal["ok", "mismatch"]
    entries: int = Field(description="Entries checked")
    archived: int = Field(description="Entries checked in archives of dropped partitions")
    head: str | None = Field(description="Hex chain hash of the last entry checked")
    first_bad_seq: int | None
    first_bad_position: int | None
    problem: str | None
    full: bool = Field(
        description="Whether the run recomputed the chain from its start (`?full=true`, or no "
        "verified checkpoint to start from yet)"
    )
    from_seq: int = Field(description="First chain position checked")
    to_seq: int = Field(
        description="Last chain position that held (`from_seq` - 1 when there was nothing new)"
    )
    start_checkpoint: CheckpointOut | None = Field(
        description="The checkpoint an incremental run started from: an earlier run verified "
        "everything up to it, its signature verifies and the chain still reaches its head"
    )
    checkpoint: CheckpointOut | Omitted = Field(
        default=None, description="Present when a checkpoint does not match the chain"
    )
    archive: str | Omitted = Field(
        default=None, description="Present when an archive record is forged or altered"
    )
    witnessed_seq: int | None = Field(description="The newest checkpoint's seq (None: none yet)")
    witnesses: list[WitnessOut] = Field(
        description="Who co-signed the newest checkpoint; each co-signature verified again"
    )


class JwkIn(StrictModel):
    """A public EC P-256 key (RFC 7517); `kid`, `alg` and `use` are derived, never trusted."""

    model_config = ConfigDict(extra="allow")  # kid, alg, use are ignored; d is refused

    kty: Literal["EC"]
    crv: Literal["P-256"]
    x: str = Field(min_length=40, max_length=44)
    y: str = Field(min_length=40, max_length=44)


class WitnessKeyIn(StrictModel):
    """The organisation's witness public key."""

    jwk: JwkIn


class WitnessKeyOut(BaseModel):
    """The organisation's witness key in use."""

    organization_id: uuid.UUID
    kid: str = Field(description="RFC 7638 thumbprint: the `kid` of its co-signatures")
    jwk: dict[str, str]
    registered_at: datetime


class CosignatureIn(StrictModel):
    """A compact JWS (ES256, kid = your witness key's thumbprint) over the checkpoint's
    statement `{"seq", "head_hash", "signed_at", "kid"}` (`kid`: the service's key)."""

    signature: str = Field(min_length=20, max_length=2000)


class CosignatureOut(BaseModel):
    """A kept co-signature."""

    seq: int
    organization_id: uuid.UUID
    kid: str
    signature: str
    cosigned_at: datetime


class LeafOut(BaseModel):
    """One link of the chain: its position and the entry's leaf hash (no entry content)."""

    position: int
    entry_hash: str = Field(description="Hex SHA-256(0x00 || canonical entry)")


class LeafPage(BaseModel):
    """Leaf hashes from `after` + 1 on: enough to recompute the chain from one checkpoint's
    head to a later one's (a consistency proof for a hash chain)."""

    items: list[LeafOut]
