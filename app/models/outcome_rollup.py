"""Exact counts of closed flags per day and month, kept by a trigger on flag."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import BigInteger, Date, Index, Text, text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class OutcomeRollup(Base):
    """Closed flags of one key in one day or month. `stripe` is 0 for folded rows, else the
    id of the transaction that wrote the row; readers sum over stripes.

    Written only by the `fb_stats_*` functions of migration 0007_stats.
    """

    __tablename__ = "outcome_rollup"
    __table_args__ = (
        Index(
            "ix_outcome_rollup_unfolded",
            "stripe",
            postgresql_where=text("stripe <> 0"),
        ),
    )

    period: Mapped[str] = mapped_column(Text, primary_key=True)
    starts_on: Mapped[date] = mapped_column(Date, primary_key=True)
    country: Mapped[str] = mapped_column(Text, primary_key=True)
    agency_org_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    platform: Mapped[str] = mapped_column(Text, primary_key=True)
    kind: Mapped[str] = mapped_column(Text, primary_key=True)
    category: Mapped[str] = mapped_column(Text, primary_key=True)
    action: Mapped[str] = mapped_column(Text, primary_key=True)
    stripe: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    flags: Mapped[int] = mapped_column(BigInteger)
