"""Audit log is append-only, enforced by the database.

Row-level triggers reject UPDATE and DELETE and a statement-level trigger rejects TRUNCATE
on audit_entry, for every role including the table owner. (A superuser can still disable
triggers; detecting that is the job of the hash chain and signed checkpoints.)

Revision ID: 0003_audit_append_only
Revises: 0002_flag_lifecycle
Create Date: 2026-11-23 16:00:00
"""

from collections.abc import Sequence

from app.migrations import execute_script
from app.sql_definitions import apply_in_migration

revision: str = "0003_audit_append_only"
down_revision: str | None = "0002_flag_lifecycle"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Install the triggers that keep audit_entry append-only."""
    apply_in_migration("audit/sql/append_only.sql")  # fb_audit_is_append_only
    execute_script(
        """
        CREATE TRIGGER audit_entry_no_update_delete
            BEFORE UPDATE OR DELETE ON audit_entry
            FOR EACH ROW EXECUTE FUNCTION fb_audit_is_append_only();
        CREATE TRIGGER audit_entry_no_truncate
            BEFORE TRUNCATE ON audit_entry
            FOR EACH STATEMENT EXECUTE FUNCTION fb_audit_is_append_only();
        CREATE INDEX ix_audit_entry_actor_client_id ON audit_entry (actor_client_id, seq);
        CREATE INDEX ix_audit_entry_action ON audit_entry (action, seq);
        """
    )


def downgrade() -> None:
    """Remove the append-only triggers."""
    execute_script(
        """
        DROP INDEX IF EXISTS ix_audit_entry_action;
        DROP INDEX IF EXISTS ix_audit_entry_actor_client_id;
        DROP TRIGGER IF EXISTS audit_entry_no_truncate ON audit_entry;
        DROP TRIGGER IF EXISTS audit_entry_no_update_delete ON audit_entry;
        DROP FUNCTION IF EXISTS fb_audit_is_append_only();
        """
    )
