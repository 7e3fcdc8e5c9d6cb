"""Histograms of response times per month, written by fb_stats_fold only."""

from __future__ import annotations

from sqlalchemy.orm import Mapped

from app.models.base import Base
from app.models.rollup import Monthly, ResponseTimeKey, key


class ResponseTimeRollupMonth(Monthly, ResponseTimeKey, Base):
    """Folded responses of one key in one month whose duration fell in `bucket`."""

    __tablename__ = "response_time_rollup_month"

    platform: Mapped[str] = key()
    priority: Mapped[str] = key()
    kind: Mapped[str] = key()
