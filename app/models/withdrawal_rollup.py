"""Withdrawn flags per agency and month, kept by a trigger on flag."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import BigInteger, Date, Index, Integer, text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class WithdrawalRollup(Base):
    """Flags of one agency withdrawn in one month; `stripe` as in OutcomeRollupDay."""

    __tablename__ = "withdrawal_rollup"
    __table_args__ = (
        Index("ix_withdrawal_rollup_pending", "stripe", postgresql_where=text("stripe <> 0")),
    )

    agency_org_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    month: Mapped[date] = mapped_column(Date, primary_key=True)
    stripe: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    flags: Mapped[int] = mapped_column(Integer)
