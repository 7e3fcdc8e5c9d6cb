"""Retention: when a flag's or a hold's personal data was removed (`redacted_at`).

`flagbridge retention run` (app/retention/) removes the identifiers, texts and evidence of
flags closed or withdrawn longer ago than FLAGBRIDGE_RETENTION_DAYS, and of holds ended as
long ago; the column records that it did, so a run touches each row once and counts it once.
No other column changes: the statistics rollups never see the purge.

Revision ID: 0013_retention
Revises: 0012_witnesses
Create Date: 2026-12-18 09:00:00
"""

from collections.abc import Sequence

from app.migrations import execute_script

revision: str = "0013_retention"
down_revision: str | None = "0012_witnesses"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add `redacted_at` to flag and hold."""
    execute_script(
        """
        ALTER TABLE flag ADD COLUMN redacted_at timestamptz;
        ALTER TABLE hold ADD COLUMN redacted_at timestamptz;
        """
    )


def downgrade() -> None:
    """Drop `redacted_at` (the data it marks as removed stays removed)."""
    execute_script(
        """
        ALTER TABLE hold DROP COLUMN redacted_at;
        ALTER TABLE flag DROP COLUMN redacted_at;
        """
    )
