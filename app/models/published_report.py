"""A frozen, signed transparency report: one row per revision of a period's report."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import CheckConstraint, Date, DateTime, Integer, LargeBinary, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class PublishedReport(Base):
    """The exact bytes served (canonical JSON) and their compact JWS; append-only, so a
    correction is a new revision beside the old one, never an edit."""

    __tablename__ = "transparency_report"
    __table_args__ = (
        CheckConstraint("revision >= 1", name="revision_positive"),
        CheckConstraint("first_month <= last_month", name="months_ordered"),
    )

    period: Mapped[str] = mapped_column(Text, primary_key=True)
    revision: Mapped[int] = mapped_column(Integer, primary_key=True)
    first_month: Mapped[date] = mapped_column(Date)
    last_month: Mapped[date] = mapped_column(Date)
    published_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    document: Mapped[bytes] = mapped_column(LargeBinary)
    signature: Mapped[str] = mapped_column(Text)
    kid: Mapped[str] = mapped_column(Text)
    exact_cells: Mapped[dict[str, Any] | None] = mapped_column(JSONB, nullable=True)
    """Private: the exact finest counts the document was built from, so a correction can
    be checked against them (app/stats/revisions.py); never served."""
