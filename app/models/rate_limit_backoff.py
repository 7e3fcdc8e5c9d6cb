"""Failed token requests of one client id, and until when it is refused."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Integer, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base

# UNLOGGED (see the migration): rewritten constantly and worth no WAL; a crash only forgets
# it, which forgives a few requests.
_UNLOGGED = {"prefixes": ["UNLOGGED"]}


class RateLimitBackoff(Base):
    """Failed token requests of one client id, and until when it is refused."""

    __tablename__ = "rate_limit_backoff"
    __table_args__ = _UNLOGGED

    key: Mapped[str] = mapped_column(Text, primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    last_failure_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    blocked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
