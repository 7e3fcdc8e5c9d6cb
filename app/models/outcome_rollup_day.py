"""Closed flags per UTC day and every dimension, kept exact by a trigger on flag."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import BigInteger, Date, Index, Integer, Text, text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class OutcomeRollupDay(Base):
    """Closed flags of one key on one day. `stripe` is 0 for folded rows, else the id of the
    transaction that wrote the row (pending until fb_stats_fold moves it); readers sum."""

    __tablename__ = "outcome_rollup_day"
    __table_args__ = (
        Index("ix_outcome_rollup_day_pending", "day", postgresql_where=text("stripe <> 0")),
    )

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    country: Mapped[str] = mapped_column(Text, primary_key=True)
    agency_org_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    platform: Mapped[str] = mapped_column(Text, primary_key=True)
    kind: Mapped[str] = mapped_column(Text, primary_key=True)
    category: Mapped[str] = mapped_column(Text, primary_key=True)
    action: Mapped[str] = mapped_column(Text, primary_key=True)
    stripe: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    flags: Mapped[int] = mapped_column(Integer)
