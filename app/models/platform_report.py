"""A platform's own totals for a period, beside the outcomes of flags."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import (
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class PlatformReport(Base):
    """Self-reported totals of one platform for [period_start, period_end)."""

    __tablename__ = "platform_report"
    __table_args__ = (
        UniqueConstraint("platform_org_id", "period_start", "period_end"),
        CheckConstraint("period_end > period_start", name="period"),
        Index("ix_platform_report_period_start", "period_start"),
    )

    id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), primary_key=True, server_default=text("gen_random_uuid()")
    )
    platform_org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organization.id"))
    platform: Mapped[str] = mapped_column(Text)
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    revision: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    submitted_by_client_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    submitted_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
