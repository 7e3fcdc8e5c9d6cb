"""A flag: an agency's referral or removal order about one account, to one platform."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, DateTime, ForeignKey, Index, Text, func, text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from app.models.agency_request import AgencyRequest
from app.models.base import Base

LIVE = text("status NOT IN ('closed', 'withdrawn')")


class Flag(AgencyRequest, Base):
    """One flag and where it is in its life (see app/flags/state.py)."""

    __tablename__ = "flag"
    __table_args__ = (
        Index(
            "uq_flag_agency_account_live",
            "agency_org_id",
            "account_id",
            unique=True,
            postgresql_where=LIVE,
        ),
        Index(
            "ix_flag_agency_submitted", "agency_org_id", text("submitted_at DESC"), text("id DESC")
        ),
        Index("ix_flag_account_live", "account_id", postgresql_where=LIVE),
        Index("ix_flag_held_account", "account_id", postgresql_where=text("status = 'held'")),
    )

    submitted_by_client_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    platform_org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organization.id"))
    # The identifiers this agency sent, canonical; shown instead of the shared account.
    account_ref: Mapped[dict[str, Any]] = mapped_column(JSONB)
    kind: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(Text)
    priority: Mapped[str] = mapped_column(Text)
    legal_basis: Mapped[str] = mapped_column(Text)
    summary: Mapped[str] = mapped_column(Text)
    evidence: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    external_ref: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text)
    submitted_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    opened_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    info_requested_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    withdrawn_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    withdraw_reason: Mapped[str | None] = mapped_column(Text)
    outcome_action: Mapped[str | None] = mapped_column(Text)
    outcome_note: Mapped[str | None] = mapped_column(Text)
    actioned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # When retention removed its personal data (app/retention/); null while it is kept.
    redacted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The agency's contest of the first outcome, and the platform's reconsidered outcome
    # (app/flags/contest.py); the first outcome stays in the outcome columns above.
    contested_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    contest_reason: Mapped[str | None] = mapped_column(Text)
    contest_evidence: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONB)
    reconsidered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reconsidered_action: Mapped[str | None] = mapped_column(Text)
    reconsidered_note: Mapped[str | None] = mapped_column(Text)
    reconsidered_actioned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    overturned: Mapped[bool | None] = mapped_column(Boolean)
