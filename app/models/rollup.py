"""Columns the rollup tables share: the period, the dimensions, the stripe, the count.

A rollup table is a period column, a key of dimensions and a count of flags; the tables
written by triggers also carry a `stripe` (0 for folded rows, else the id of the writing
transaction, pending until fb_stats_fold moves it) with a partial index on pending rows.
`sort_order` keeps each table's columns (and so its primary key) in the order its
migration created them, whatever the order the mixins are inherited in.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from sqlalchemy import BigInteger, Date, Index, Integer, SmallInteger, Text, text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, declared_attr, mapped_column


def key(sort_order: int = 0) -> Mapped[str]:
    """A text dimension of a rollup's key (sort_order places it among inherited columns)."""
    return mapped_column(Text, primary_key=True, sort_order=sort_order)


class Daily:
    """Rows of one UTC day."""

    day: Mapped[date] = mapped_column(Date, primary_key=True, sort_order=-1)


class Monthly:
    """Rows of the month starting on `month`."""

    month: Mapped[date] = mapped_column(Date, primary_key=True, sort_order=-1)


class Counted:
    """How many flags the row counts (always the last column)."""

    flags: Mapped[int] = mapped_column(Integer, sort_order=4)


class Striped:
    """Pending rows of a trigger-written rollup, with the partial index fb_stats_fold reads."""

    stripe: Mapped[int] = mapped_column(BigInteger, primary_key=True, sort_order=3)

    @declared_attr.directive
    def __table_args__(cls) -> tuple[Any, ...]:
        name = cls.__tablename__  # type: ignore[attr-defined]
        return (Index(f"ix_{name}_pending", "day", postgresql_where=text("stripe <> 0")),)


class NarrowOutcomeKey(Counted):
    """Closed flags by country, agency, platform and action."""

    country: Mapped[str] = key()
    agency_org_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    platform: Mapped[str] = key()
    action: Mapped[str] = key(sort_order=2)


class OutcomeKey(NarrowOutcomeKey):
    """Closed flags by every dimension: the narrow key and kind and category."""

    kind: Mapped[str] = key(sort_order=1)
    category: Mapped[str] = key(sort_order=1)


class ResponseTimeKey(Counted):
    """Responses whose duration fell in `bucket` (app/stats/percentiles.py) per measure."""

    measure: Mapped[str] = key(sort_order=2)
    bucket: Mapped[int] = mapped_column(SmallInteger, primary_key=True, sort_order=2)
