"""Histograms of time to acknowledge and time to outcome, kept by a trigger on flag."""

from __future__ import annotations

from datetime import date

from sqlalchemy import BigInteger, Date, Index, SmallInteger, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class ResponseTimeRollup(Base):
    """Flags whose response took a duration in `bucket` (app/stats/percentiles.py), per day
    or month of the response, on one stripe (readers sum stripes)."""

    __tablename__ = "response_time_rollup"
    __table_args__ = (
        Index(
            "ix_response_time_rollup_unfolded",
            "stripe",
            postgresql_where=text("stripe <> 0"),
        ),
    )

    period: Mapped[str] = mapped_column(Text, primary_key=True)
    starts_on: Mapped[date] = mapped_column(Date, primary_key=True)
    platform: Mapped[str] = mapped_column(Text, primary_key=True)
    priority: Mapped[str] = mapped_column(Text, primary_key=True)
    kind: Mapped[str] = mapped_column(Text, primary_key=True)
    measure: Mapped[str] = mapped_column(Text, primary_key=True)
    bucket: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    stripe: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    flags: Mapped[int] = mapped_column(BigInteger)
