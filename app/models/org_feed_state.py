"""When each organisation last read its feed."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class OrgFeedState(Base):
    """When an organisation last read its feed."""

    __tablename__ = "org_feed_state"

    org_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    last_polled_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
