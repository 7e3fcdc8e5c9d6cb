"""One link of the audit hash chain."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, LargeBinary, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class AuditSeal(Base):
    """The position of an audit entry in the chain, its hash and the chain's head after it."""

    __tablename__ = "audit_seal"
    __table_args__ = (UniqueConstraint("entry_seq", name="uq_audit_seal_entry_seq"),)

    position: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    entry_seq: Mapped[int] = mapped_column(BigInteger)
    entry_txid: Mapped[int] = mapped_column(BigInteger)
    # The entry's `at`: tells an entry in an archived (detached) month from a deleted one.
    entry_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    entry_hash: Mapped[bytes] = mapped_column(LargeBinary)
    chain_hash: Mapped[bytes] = mapped_column(LargeBinary)
    sealed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
