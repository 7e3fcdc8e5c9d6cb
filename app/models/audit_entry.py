"""One audit log entry: who changed what, when, in which request."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Identity, Index, String, Text, text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class AuditEntry(Base):
    """An append-only record of a state change, written in the change's own transaction.

    `txid` is the writing transaction's id; it lets a later sealing step order entries
    by commit visibility rather than by `seq`, which can commit out of order. The table is
    partitioned by month of `at` (partitions are made by `fb_audit_ensure_partitions`, see
    app/audit/partitions.py), hence the primary key includes `at`.
    """

    __tablename__ = "audit_entry"
    __table_args__ = (
        Index("ix_audit_entry_object", "object_type", "object_id", "seq"),
        Index("ix_audit_entry_actor_org_id", "actor_org_id", "seq"),
        Index("ix_audit_entry_at", "at", postgresql_using="brin"),
        Index("ix_audit_entry_actor_client_id", "actor_client_id", "seq"),
        Index("ix_audit_entry_action", "action", "seq"),
        Index("ix_audit_entry_txid_seq", "txid", "seq"),
        {"postgresql_partition_by": "RANGE (at)"},
    )

    seq: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=text("clock_timestamp()"), primary_key=True
    )
    actor_client_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    actor_org_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    actor_label: Mapped[str | None] = mapped_column(String(200))
    client_ip: Mapped[str | None] = mapped_column(String(64))
    request_id: Mapped[str | None] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    txid: Mapped[int] = mapped_column(
        BigInteger, server_default=text("pg_current_xact_id()::text::bigint")
    )
