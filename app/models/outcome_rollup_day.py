"""Closed flags per UTC day and every dimension, kept exact by a trigger on flag."""

from __future__ import annotations

from app.models.base import Base
from app.models.rollup import Daily, OutcomeKey, Striped


class OutcomeRollupDay(Daily, OutcomeKey, Striped, Base):
    """Closed flags of one key on one day; readers sum over `stripe` (see app/models/rollup.py)."""

    __tablename__ = "outcome_rollup_day"
