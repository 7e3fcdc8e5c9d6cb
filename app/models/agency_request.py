"""Columns that flags and holds share: both are an agency's request about one account.

`sort_order` puts them first, as the migrations created them.
"""

from __future__ import annotations

import uuid

from sqlalchemy import ForeignKey, Text, text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column


class AgencyRequest:
    """Who asked (the agency and its country) about which account on which platform."""

    id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True),
        primary_key=True,
        server_default=text("gen_random_uuid()"),
        sort_order=-1,
    )
    agency_org_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organization.id"), sort_order=-1)
    country: Mapped[str] = mapped_column(Text, sort_order=-1)
    platform: Mapped[str] = mapped_column(Text, sort_order=-1)
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("account.id"), sort_order=-1)
