"""Signed checkpoints of the audit hash chain.

Revision ID: 0005_audit_checkpoints
Revises: 0004_audit_chain
Create Date: 2026-11-23 17:00:00
"""

from collections.abc import Sequence

from app.migrations import execute_script

revision: str = "0005_audit_checkpoints"
down_revision: str | None = "0004_audit_chain"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create audit_checkpoint, append-only like the log."""
    execute_script(
        """
        CREATE TABLE audit_checkpoint (
            id bigint GENERATED ALWAYS AS IDENTITY,
            position bigint NOT NULL,
            head_hash bytea NOT NULL,
            signed_at timestamptz NOT NULL,
            kid text NOT NULL,
            signature text NOT NULL,
            CONSTRAINT pk_audit_checkpoint PRIMARY KEY (id)
        );
        CREATE INDEX ix_audit_checkpoint_position ON audit_checkpoint (position);
        CREATE TRIGGER audit_checkpoint_no_update_delete
            BEFORE UPDATE OR DELETE ON audit_checkpoint
            FOR EACH ROW EXECUTE FUNCTION fb_audit_is_append_only();
        CREATE TRIGGER audit_checkpoint_no_truncate
            BEFORE TRUNCATE ON audit_checkpoint
            FOR EACH STATEMENT EXECUTE FUNCTION fb_audit_is_append_only();
        """
    )


def downgrade() -> None:
    """Drop the checkpoints."""
    execute_script("DROP TABLE IF EXISTS audit_checkpoint;")
