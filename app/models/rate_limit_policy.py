"""An operator's budgets for one organisation's clients; NULL means the default."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, func
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class RateLimitPolicy(Base):
    """An operator's budgets for one organisation's clients; NULL means the default."""

    __tablename__ = "rate_limit_policy"

    organization_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("organization.id"), primary_key=True
    )
    writes_per_minute: Mapped[int | None] = mapped_column(Integer)
    reads_per_minute: Mapped[int | None] = mapped_column(Integer)
    long_poll_waiters: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
