"""Hold renewals: each time an agency moves a hold's expiry later is recorded.

Revision ID: 0009_hold_governance
Revises: 0008_sql_definitions
Create Date: 2026-12-01 10:00:00
"""

from collections.abc import Sequence

from app.migrations import execute_script

revision: str = "0009_hold_governance"
down_revision: str | None = "0008_sql_definitions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create hold_renewal (the renewal cap counts its rows per hold)."""
    execute_script(
        """
        CREATE TABLE hold_renewal (
            id bigint GENERATED ALWAYS AS IDENTITY,
            hold_id uuid NOT NULL,
            renewed_by_client_id uuid NOT NULL,
            previous_expires_at timestamptz NOT NULL,
            expires_at timestamptz NOT NULL,
            reason text,
            renewed_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT pk_hold_renewal PRIMARY KEY (id),
            CONSTRAINT fk_hold_renewal_hold_id_hold FOREIGN KEY (hold_id) REFERENCES hold (id)
        );
        CREATE INDEX ix_hold_renewal_hold_id ON hold_renewal (hold_id, id);
        """
    )


def downgrade() -> None:
    """Drop the renewals (holds keep their current expiry)."""
    execute_script("DROP TABLE IF EXISTS hold_renewal;")
