"""A platform's statement of reasons for an outcome (DSA Transparency Database shape)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    SmallInteger,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class OutcomeStatement(Base):
    """The reasons of one decision on a flag (1: its first outcome, 2: a reconsidered one)."""

    __tablename__ = "outcome_statement"
    __table_args__ = (
        CheckConstraint("decision >= 1", name="decision"),
        CheckConstraint(
            "(legal_provision IS NOT NULL) = (ground = 'illegal_content') "
            "AND (terms_clause IS NOT NULL) = (ground = 'terms_of_service')",
            name="reference",
        ),
        CheckConstraint(
            "territorial_scope IS NULL OR cardinality(territorial_scope) > 0", name="scope"
        ),
    )

    flag_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("flag.id"), primary_key=True)
    decision: Mapped[int] = mapped_column(SmallInteger, primary_key=True, server_default=text("1"))
    action: Mapped[str] = mapped_column(Text)
    ground: Mapped[str] = mapped_column(Text)
    legal_provision: Mapped[str | None] = mapped_column(Text)
    terms_clause: Mapped[str | None] = mapped_column(Text)
    explanation: Mapped[str | None] = mapped_column(Text)
    automated_detection: Mapped[bool] = mapped_column(Boolean)
    automated_decision: Mapped[str] = mapped_column(Text)
    # NULL: global; else ISO 3166-1 alpha-2 codes, upper-case, distinct, sorted.
    territorial_scope: Mapped[list[str] | None] = mapped_column(ARRAY(Text))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    redacted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
