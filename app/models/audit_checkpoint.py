"""A signed statement of the audit chain's head at some length."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Identity, Index, LargeBinary, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class AuditCheckpoint(Base):
    """`(position, head_hash, signed_at)` signed with the service key (compact JWS)."""

    __tablename__ = "audit_checkpoint"
    __table_args__ = (Index("ix_audit_checkpoint_position", "position"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    position: Mapped[int] = mapped_column(BigInteger)
    head_hash: Mapped[bytes] = mapped_column(LargeBinary)
    signed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    kid: Mapped[str] = mapped_column(Text)
    signature: Mapped[str] = mapped_column(Text)
