"""Histograms of response times per month, written by fb_stats_fold only."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Date, Integer, SmallInteger, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class ResponseTimeRollupMonth(Base):
    """Folded responses of one key in one month whose duration fell in `bucket`."""

    __tablename__ = "response_time_rollup_month"

    month: Mapped[date] = mapped_column(Date, primary_key=True)
    platform: Mapped[str] = mapped_column(Text, primary_key=True)
    priority: Mapped[str] = mapped_column(Text, primary_key=True)
    kind: Mapped[str] = mapped_column(Text, primary_key=True)
    measure: Mapped[str] = mapped_column(Text, primary_key=True)
    bucket: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    flags: Mapped[int] = mapped_column(Integer)
