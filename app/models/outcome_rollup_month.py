"""Closed flags per month and every dimension, written by fb_stats_fold only."""

from __future__ import annotations

from app.models.base import Base
from app.models.rollup import Monthly, OutcomeKey


class OutcomeRollupMonth(Monthly, OutcomeKey, Base):
    """Closed flags of one key in the month starting on `month` (folded rows only)."""

    __tablename__ = "outcome_rollup_month"
