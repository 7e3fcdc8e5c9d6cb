"""Set-based submission: nothing to create (its functions live in app/flags/sql), but a
downgrade drops the functions it added that depend on the flag type, so that the earlier
downgrades can drop the table.

Revision ID: 0013_set_submission
Revises: 0012_witnesses
Create Date: 2026-12-18 09:00:00
"""

from collections.abc import Sequence

from app.migrations import execute_script

revision: str = "0013_set_submission"
down_revision: str | None = "0012_witnesses"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Nothing: after head, alembic/env.py applies the SQL definitions, the new ones too."""


def downgrade() -> None:
    """Drop the set-based submission's functions; the next upgrade re-applies the files."""
    execute_script(
        """
        DROP FUNCTION IF EXISTS fb_submit_flags(uuid[], uuid[], text[], jsonb[], text[], text[],
                                                boolean);
        DROP FUNCTION IF EXISTS fb_submit_flag_alone(uuid, uuid, text, jsonb, text, text);
        DROP FUNCTION IF EXISTS fb_insert_flags(uuid[], uuid[], text[], jsonb[], uuid[], uuid[],
                                                boolean[], text[], text[]);
        DROP FUNCTION IF EXISTS fb_new_accounts(text[], jsonb[]);
        DROP FUNCTION IF EXISTS fb_corroborations_of(flag[]);
        DROP FUNCTION IF EXISTS fb_corroboration_events(flag);
        DROP FUNCTION IF EXISTS fb_audit_digest(text);
        """
    )
