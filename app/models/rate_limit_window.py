"""Requests counted in one fixed window of one budget for one key (client, address)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Integer, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base

# UNLOGGED (see the migration): rewritten constantly and worth no WAL; a crash only forgets
# it, which forgives a few requests.
_UNLOGGED = {"prefixes": ["UNLOGGED"]}


class RateLimitWindow(Base):
    """Requests counted in one fixed window of one budget for one key (client, address)."""

    __tablename__ = "rate_limit_window"
    __table_args__ = _UNLOGGED

    bucket: Mapped[str] = mapped_column(Text, primary_key=True)
    key: Mapped[str] = mapped_column(Text, primary_key=True)
    window_start: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    hits: Mapped[int] = mapped_column(Integer)
