"""A deconfliction hold on an account."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Index, Text, func, text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from app.models.agency_request import AgencyRequest
from app.models.base import Base

ACTIVE = text("released_at IS NULL")


class Hold(AgencyRequest, Base):
    """An agency's request that an account not be alerted yet."""

    __tablename__ = "hold"
    __table_args__ = (
        Index("ix_hold_agency_created", "agency_org_id", text("created_at DESC"), text("id DESC")),
        Index("ix_hold_account_active", "account_id", postgresql_where=ACTIVE),
        Index("ix_hold_expiry", "expires_at", postgresql_where=ACTIVE),
    )

    created_by_client_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    # The identifiers this agency sent, canonical; shown instead of the shared account.
    account_ref: Mapped[dict[str, Any]] = mapped_column(JSONB)
    reason: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    released_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    release_reason: Mapped[str | None] = mapped_column(Text)
    # When retention removed its personal data (app/retention/); null while it is kept.
    redacted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
