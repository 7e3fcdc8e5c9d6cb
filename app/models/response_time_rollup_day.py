"""Histograms of time to acknowledge and to outcome per day, kept by a trigger on flag."""

from __future__ import annotations

from datetime import date

from sqlalchemy import BigInteger, Date, Index, Integer, SmallInteger, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class ResponseTimeRollupDay(Base):
    """Responses of one key on one day whose duration fell in `bucket`
    (app/stats/percentiles.py); `stripe` as in OutcomeRollupDay."""

    __tablename__ = "response_time_rollup_day"
    __table_args__ = (
        Index("ix_response_time_rollup_day_pending", "day", postgresql_where=text("stripe <> 0")),
    )

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    platform: Mapped[str] = mapped_column(Text, primary_key=True)
    priority: Mapped[str] = mapped_column(Text, primary_key=True)
    kind: Mapped[str] = mapped_column(Text, primary_key=True)
    measure: Mapped[str] = mapped_column(Text, primary_key=True)
    bucket: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    stripe: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    flags: Mapped[int] = mapped_column(Integer)
