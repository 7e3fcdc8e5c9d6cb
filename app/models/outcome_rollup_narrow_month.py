"""Closed flags per month by country, agency, platform and action, written by the fold."""

from __future__ import annotations

from app.models.base import Base
from app.models.rollup import Monthly, NarrowOutcomeKey


class OutcomeRollupNarrowMonth(Monthly, NarrowOutcomeKey, Base):
    """Folded closed flags of one (country, agency, platform, action) in one month."""

    __tablename__ = "outcome_rollup_narrow_month"
