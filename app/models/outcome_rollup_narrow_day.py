"""Closed flags per day by country, agency, platform and action, written by the fold."""

from __future__ import annotations

from app.models.base import Base
from app.models.rollup import Daily, NarrowOutcomeKey


class OutcomeRollupNarrowDay(Daily, NarrowOutcomeKey, Base):
    """Folded closed flags of one (country, agency, platform, action) on one day."""

    __tablename__ = "outcome_rollup_narrow_day"
