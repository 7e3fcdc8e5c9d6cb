"""The webhook outbox: one row per feed event to push, with its attempts."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base
from app.models.feed_event import Xid8

PENDING = text("status = 'pending'")


class WebhookDelivery(Base):
    """A feed event on its way to the organisation's webhook (written by a trigger)."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'delivered', 'failed')", name="status_known"),
        Index("uq_webhook_delivery_org_event", "org_id", "event_id", unique=True),
        Index("ix_webhook_delivery_due", "next_attempt_at", postgresql_where=PENDING),
        Index(
            "ix_webhook_delivery_subject_pending",
            "org_id",
            "subject_id",
            "txid",
            "event_id",
            postgresql_where=PENDING,
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("webhook.org_id", ondelete="CASCADE"))
    event_id: Mapped[int] = mapped_column(BigInteger)
    txid: Mapped[int] = mapped_column(Xid8())
    subject_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    status: Mapped[str] = mapped_column(Text, server_default=text("'pending'"))
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    next_attempt_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    last_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    payload: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
