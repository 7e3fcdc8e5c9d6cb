"""Verification runs of the audit chain, so `GET /v1/audit/verify` can start from the
newest checkpoint an earlier run verified instead of rehashing the whole chain.

The table is a cache of trust, not evidence: deleting rows only makes the next run start
further back, and the full verification (`?full=true`, `flagbridge audit verify`, the
daily job) never reads it. So it has no append-only triggers.

Revision ID: 0015_audit_verification
Revises: 0014_transparency_reports
Create Date: 2026-12-18 09:00:00
"""

from collections.abc import Sequence

from app.migrations import execute_script

revision: str = "0015_audit_verification"
down_revision: str | None = "0014_transparency_reports"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create audit_verification."""
    execute_script(
        """
        CREATE TABLE audit_verification (
            id bigint GENERATED ALWAYS AS IDENTITY,
            verified_at timestamptz NOT NULL DEFAULT now(),
            after_position bigint NOT NULL,
            through_position bigint NOT NULL,
            checkpoint_id bigint,
            ok boolean NOT NULL,
            client_id uuid,
            CONSTRAINT pk_audit_verification PRIMARY KEY (id)
        );
        CREATE INDEX ix_audit_verification_client_id_verified_at
            ON audit_verification (client_id, verified_at);
        CREATE INDEX ix_audit_verification_after_position_verified_at
            ON audit_verification (after_position, verified_at);
        """
    )


def downgrade() -> None:
    """Drop audit_verification."""
    execute_script("DROP TABLE IF EXISTS audit_verification;")
