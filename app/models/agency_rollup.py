"""All-time totals of each agency's settled flags, kept by a trigger on flag."""

from __future__ import annotations

import uuid

from sqlalchemy import BigInteger, Index, text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class AgencyRollup(Base):
    """Closed, actioned and withdrawn flags of an agency; stripe as in OutcomeRollup."""

    __tablename__ = "agency_rollup"
    __table_args__ = (
        Index("ix_agency_rollup_unfolded", "stripe", postgresql_where=text("stripe <> 0")),
    )

    agency_org_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    stripe: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    closed: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    actioned: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    withdrawn: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
