"""Histograms of response times per month by one dimension, written by fb_stats_fold only."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Date, Integer, SmallInteger, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class ResponseTimeRollupMonthBy(Base):
    """Folded responses in one month whose duration fell in `bucket`, summed over every
    dimension but `dimension` (platform, priority or kind; 'all' sums over all three)."""

    __tablename__ = "response_time_rollup_month_by"

    month: Mapped[date] = mapped_column(Date, primary_key=True)
    dimension: Mapped[str] = mapped_column(Text, primary_key=True)
    value: Mapped[str] = mapped_column(Text, primary_key=True)
    measure: Mapped[str] = mapped_column(Text, primary_key=True)
    bucket: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    flags: Mapped[int] = mapped_column(Integer)
