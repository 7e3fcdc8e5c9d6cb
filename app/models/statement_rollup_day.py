"""Statements of reasons per UTC day, every outcome dimension, ground and scope; kept exact
by the trigger on outcome_statement (app/stats/sql/statement_rollups.sql)."""

from __future__ import annotations

from sqlalchemy.orm import Mapped

from app.models.base import Base
from app.models.rollup import Daily, OutcomeKey, Striped, key


class StatementRollupDay(Daily, OutcomeKey, Striped, Base):
    """Statements of one key on one day. `scope` is '' for the statement counted once, or
    'global' or a country code for it counted once per entry of its territorial scope."""

    __tablename__ = "statement_rollup_day"

    ground: Mapped[str] = key(sort_order=2)
    scope: Mapped[str] = key(sort_order=2)
