"""Closed flags per month by country, agency, platform and action, written by the fold."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import Date, Integer, Text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class OutcomeRollupNarrowMonth(Base):
    """Folded closed flags of one (country, agency, platform, action) in one month."""

    __tablename__ = "outcome_rollup_narrow_month"

    month: Mapped[date] = mapped_column(Date, primary_key=True)
    country: Mapped[str] = mapped_column(Text, primary_key=True)
    agency_org_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    platform: Mapped[str] = mapped_column(Text, primary_key=True)
    action: Mapped[str] = mapped_column(Text, primary_key=True)
    flags: Mapped[int] = mapped_column(Integer)
