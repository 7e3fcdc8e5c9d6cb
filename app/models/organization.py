"""An organisation: an agency, a platform, an observer or the operator."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, Index, String, Text, func, text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base

ORG_KINDS = ("agency", "platform", "observer", "operator")


class Organization(Base):
    """A member of FlagBridge; its kind decides which scopes its clients may hold."""

    __tablename__ = "organization"
    __table_args__ = (
        CheckConstraint(
            "kind IN ('agency', 'platform', 'observer', 'operator')", name="kind_known"
        ),
        CheckConstraint("(kind = 'agency') = (country IS NOT NULL)", name="country_iff_agency"),
        CheckConstraint(
            "(kind = 'platform') = (platform IS NOT NULL)", name="platform_iff_platform"
        ),
        CheckConstraint(
            "(kind = 'platform') = (identity_profile IS NOT NULL)",
            name="identity_profile_iff_platform",
        ),
        CheckConstraint("country ~ '^[A-Z]{2}$'", name="country_alpha2"),
        CheckConstraint("platform ~ '^[a-z0-9][a-z0-9-]{0,62}$'", name="platform_slug"),
        Index("uq_organization_platform", "platform", unique=True),
        Index("uq_organization_name", "name", unique=True),
    )

    id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), primary_key=True, server_default=text("gen_random_uuid()")
    )
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200))
    country: Mapped[str | None] = mapped_column(String(2))
    platform: Mapped[str | None] = mapped_column(String(63))
    # A platform's identity profile (app/identity/profiles.py); NULL for other kinds.
    identity_profile: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
