"""A canonical key of an account (app/identity/canonical.py): how accounts are found."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class AccountKey(Base):
    """One canonical key (`handle:…`, `id:…`, `name:…`, `url:…`) bound to one account."""

    __tablename__ = "account_key"
    __table_args__ = (
        CheckConstraint("bound_by IN ('agency', 'platform', 'migration')", name="bound_by_known"),
        Index("ix_account_key_account_id", "account_id"),
    )

    platform: Mapped[str] = mapped_column(Text, primary_key=True)
    key: Mapped[str] = mapped_column(Text, primary_key=True)
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("account.id"))
    bound_by: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
