"""One renewal of a deconfliction hold."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Identity, Index, Text, func
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class HoldRenewal(Base):
    """A hold's expiry moved later by its agency: when, by whom, from what to what, why."""

    __tablename__ = "hold_renewal"
    __table_args__ = (Index("ix_hold_renewal_hold_id", "hold_id", "id"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    hold_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("hold.id"))
    renewed_by_client_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    previous_expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    reason: Mapped[str | None] = mapped_column(Text)
    renewed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
