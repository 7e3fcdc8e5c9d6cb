"""Audit hash chain: every entry, once committed, gets a position and a chained hash.

Revision ID: 0004_audit_chain
Revises: 0003_audit_append_only
Create Date: 2026-11-23 16:30:00
"""

from collections.abc import Sequence

from app.migrations import execute_script

revision: str = "0004_audit_chain"
down_revision: str | None = "0003_audit_append_only"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create audit_seal (append-only like the log) and the sealing order index."""
    execute_script(
        """
        CREATE TABLE audit_seal (
            position bigint NOT NULL,
            entry_seq bigint NOT NULL,
            entry_txid bigint NOT NULL,
            entry_hash bytea NOT NULL,
            chain_hash bytea NOT NULL,
            sealed_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT pk_audit_seal PRIMARY KEY (position),
            CONSTRAINT uq_audit_seal_entry_seq UNIQUE (entry_seq)
        );
        CREATE TRIGGER audit_seal_no_update_delete
            BEFORE UPDATE OR DELETE ON audit_seal
            FOR EACH ROW EXECUTE FUNCTION fb_audit_is_append_only();
        CREATE TRIGGER audit_seal_no_truncate
            BEFORE TRUNCATE ON audit_seal
            FOR EACH STATEMENT EXECUTE FUNCTION fb_audit_is_append_only();
        -- Sealing reads entries in commit-visibility order (see app/audit/sealing.py).
        CREATE INDEX ix_audit_entry_txid_seq ON audit_entry (txid, seq);
        """
    )


def downgrade() -> None:
    """Drop the chain."""
    execute_script(
        """
        DROP INDEX IF EXISTS ix_audit_entry_txid_seq;
        DROP TABLE IF EXISTS audit_seal;
        """
    )
