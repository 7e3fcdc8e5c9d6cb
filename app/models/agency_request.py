"""Columns that flags and holds share: both are an agency's request about one account."""

from __future__ import annotations

import uuid

from sqlalchemy import ForeignKey, Text, text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column


class AgencyRequest:
    """Who asked (the agency and its country) about which account on which platform."""

    id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), primary_key=True, server_default=text("gen_random_uuid()")
    )
    agency_org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organization.id"))
    country: Mapped[str] = mapped_column(Text)
    platform: Mapped[str] = mapped_column(Text)
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("account.id"))
