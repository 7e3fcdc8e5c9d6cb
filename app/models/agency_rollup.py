"""Each agency's settled flags per month, kept by a trigger on flag."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import BigInteger, Date, Index, text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class AgencyRollup(Base):
    """Closed and actioned flags of an agency by month of closed_at, withdrawn by month of
    withdrawn_at; stripe as in OutcomeRollup (readers sum)."""

    __tablename__ = "agency_rollup"
    __table_args__ = (
        Index("ix_agency_rollup_unfolded", "stripe", postgresql_where=text("stripe <> 0")),
    )

    agency_org_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    starts_on: Mapped[date] = mapped_column(Date, primary_key=True)
    stripe: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    closed: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    actioned: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    withdrawn: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
