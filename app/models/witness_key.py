"""A member's witness key: the public key it co-signs checkpoints with."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, ForeignKey, Identity, Text, UniqueConstraint, func
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class WitnessKey(Base):
    """Every key an organisation registered, kept for good (append-only): co-signatures made
    with an older key stay verifiable; the newest row is the one in use."""

    __tablename__ = "witness_key"
    __table_args__ = (UniqueConstraint("organization_id", "kid"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("organization.id")
    )
    kid: Mapped[str] = mapped_column(Text)
    jwk: Mapped[dict[str, Any]] = mapped_column(JSONB)
    registered_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
