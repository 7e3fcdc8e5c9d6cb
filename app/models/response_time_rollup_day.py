"""Histograms of time to acknowledge and to outcome per day, kept by a trigger on flag."""

from __future__ import annotations

from sqlalchemy.orm import Mapped

from app.models.base import Base
from app.models.rollup import Daily, ResponseTimeKey, Striped, key


class ResponseTimeRollupDay(Daily, ResponseTimeKey, Striped, Base):
    """Responses of one key on one day whose duration fell in `bucket`."""

    __tablename__ = "response_time_rollup_day"

    platform: Mapped[str] = key()
    priority: Mapped[str] = key()
    kind: Mapped[str] = key()
