"""One line of a platform report: a count for a country, category, action and source."""

from __future__ import annotations

import uuid

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Integer, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class PlatformReportRow(Base):
    """How many accounts the platform actioned for one (country, category, action, source)."""

    __tablename__ = "platform_report_row"
    __table_args__ = (
        CheckConstraint("count >= 0", name="count"),
        CheckConstraint("source IN ('own_detection', 'other')", name="source"),
    )

    report_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("platform_report.id", ondelete="CASCADE"), primary_key=True
    )
    row_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    country: Mapped[str | None] = mapped_column(Text)
    category: Mapped[str] = mapped_column(Text)
    action: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(Text)
    count: Mapped[int] = mapped_column(BigInteger)
