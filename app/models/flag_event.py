"""One step of a flag's history."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, ForeignKey, Identity, Index, Text, text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class FlagEvent(Base):
    """submitted, held, released, delivered, acknowledged, info_requested, ... of a flag."""

    __tablename__ = "flag_event"
    __table_args__ = (Index("ix_flag_event_flag_id", "flag_id", "id"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    flag_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("flag.id"))
    type: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=text("clock_timestamp()")
    )
    actor_org_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    actor_client_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    data: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
