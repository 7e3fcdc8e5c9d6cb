"""Histograms of response times per month by one dimension, written by fb_stats_fold only."""

from __future__ import annotations

from sqlalchemy.orm import Mapped

from app.models.base import Base
from app.models.rollup import Monthly, ResponseTimeKey, key


class ResponseTimeRollupMonthBy(Monthly, ResponseTimeKey, Base):
    """Folded responses in one month whose duration fell in `bucket`, summed over every
    dimension but `dimension` (platform, priority or kind; 'all' sums over all three)."""

    __tablename__ = "response_time_rollup_month_by"

    dimension: Mapped[str] = key()
    value: Mapped[str] = key()
