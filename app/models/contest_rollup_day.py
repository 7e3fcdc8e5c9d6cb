"""Contested and overturned flags per day and key of their first outcome, kept by a trigger."""

from __future__ import annotations

from sqlalchemy.orm import Mapped

from app.models.base import Base
from app.models.rollup import Daily, OutcomeKey, Striped, key


class ContestRollupDay(Daily, OutcomeKey, Striped, Base):
    """Flags of one first-outcome key and day that were contested or overturned (`measure`);
    readers sum over `stripe` (see app/models/rollup.py)."""

    __tablename__ = "contest_rollup_day"

    measure: Mapped[str] = key(sort_order=2)
