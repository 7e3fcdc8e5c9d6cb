"""Closed flags per month and every dimension, written by fb_stats_fold only."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import Date, Integer, Text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class OutcomeRollupMonth(Base):
    """Closed flags of one key in the month starting on `month` (folded rows only)."""

    __tablename__ = "outcome_rollup_month"

    month: Mapped[date] = mapped_column(Date, primary_key=True)
    country: Mapped[str] = mapped_column(Text, primary_key=True)
    agency_org_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    platform: Mapped[str] = mapped_column(Text, primary_key=True)
    kind: Mapped[str] = mapped_column(Text, primary_key=True)
    category: Mapped[str] = mapped_column(Text, primary_key=True)
    action: Mapped[str] = mapped_column(Text, primary_key=True)
    flags: Mapped[int] = mapped_column(Integer)
