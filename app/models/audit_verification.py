"""A run of the audit chain's verification: which positions it checked and whether they held."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Boolean, DateTime, Identity, Index, func
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class AuditVerification(Base):
    """Positions `after_position + 1 .. through_position` checked; `after_position` 0 is a
    full run. The newest run decides where the next incremental run may start."""

    __tablename__ = "audit_verification"
    __table_args__ = (
        Index("ix_audit_verification_client_id_verified_at", "client_id", "verified_at"),
        Index("ix_audit_verification_after_position_verified_at", "after_position", "verified_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    verified_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    after_position: Mapped[int] = mapped_column(BigInteger)
    through_position: Mapped[int] = mapped_column(BigInteger)
    # No foreign keys: a cache of trust, kept apart from the append-only tables it describes.
    checkpoint_id: Mapped[int | None] = mapped_column(BigInteger)
    ok: Mapped[bool] = mapped_column(Boolean)
    client_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
