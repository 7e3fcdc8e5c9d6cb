"""A month of the audit log written to a file and detached from the database."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Identity, Text, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class AuditArchive(Base):
    """Which partition was archived, how many entries it held and the file's SHA-256.

    Verification accepts exactly `entry_count` sealed entries in [range_start, range_end)
    as archived rather than missing; the file can be checked against the chain.
    """

    __tablename__ = "audit_archive"
    __table_args__ = (UniqueConstraint("partition_name", name="uq_audit_archive_partition_name"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    partition_name: Mapped[str] = mapped_column(Text)
    range_start: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    range_end: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    entry_count: Mapped[int] = mapped_column(BigInteger)
    first_position: Mapped[int | None] = mapped_column(BigInteger)
    last_position: Mapped[int | None] = mapped_column(BigInteger)
    file_sha256: Mapped[str] = mapped_column(Text)
    archived_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    archived_by: Mapped[str] = mapped_column(Text)
    kid: Mapped[str] = mapped_column(Text)
    # Compact JWS (service key) over the record's statement; see app/audit/partitions.py.
    signature: Mapped[str] = mapped_column(Text)
