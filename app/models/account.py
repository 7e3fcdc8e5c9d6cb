"""An account on a platform that flags and holds are about."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, Index, Text, func, text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class Account(Base):
    """A platform account, identified by its stable id, normalised handle or URL."""

    __tablename__ = "account"
    __table_args__ = (
        Index(
            "uq_account_platform_external_id",
            "platform",
            "external_id",
            unique=True,
            postgresql_where=text("external_id IS NOT NULL"),
        ),
        Index(
            "uq_account_platform_handle",
            "platform",
            "handle",
            unique=True,
            postgresql_where=text("handle IS NOT NULL"),
        ),
        Index(
            "uq_account_platform_url",
            "platform",
            "url",
            unique=True,
            postgresql_where=text("url IS NOT NULL"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), primary_key=True, server_default=text("gen_random_uuid()")
    )
    platform: Mapped[str] = mapped_column(Text)
    external_id: Mapped[str | None] = mapped_column(Text)
    handle: Mapped[str | None] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
