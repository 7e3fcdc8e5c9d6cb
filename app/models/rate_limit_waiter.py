"""One long-poll waiting somewhere in the fleet; it expires if its process dies."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, Index
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base

# UNLOGGED (see the migration): rewritten constantly and worth no WAL; a crash only forgets
# it, which forgives a few requests.
_UNLOGGED = {"prefixes": ["UNLOGGED"]}


class RateLimitWaiter(Base):
    """One long-poll waiting somewhere in the fleet; it expires if its process dies."""

    __tablename__ = "rate_limit_waiter"
    __table_args__ = (Index("ix_rate_limit_waiter_client_id", "client_id"), _UNLOGGED)

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    client_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
