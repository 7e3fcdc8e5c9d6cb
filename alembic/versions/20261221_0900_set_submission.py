"""Set-based submission: its functions live in app/flags/sql; this drops the one it made
unused (fb_submit_flag_request: a single request is a group of one now), and a downgrade
drops the functions it added, some of which depend on the flag type, so that the earlier
downgrades can drop the table.

Revision ID: 0017_set_submission
Revises: 0016_rate_limits
Create Date: 2026-12-18 09:00:00
"""

from collections.abc import Sequence

from app.migrations import execute_script

revision: str = "0017_set_submission"
down_revision: str | None = "0016_rate_limits"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Drop fb_submit_flag_request; after head, alembic/env.py applies the new functions."""
    execute_script(
        """
        DROP FUNCTION IF EXISTS fb_submit_flag_request(uuid, uuid, text, jsonb, text, text, text,
                                                       text, text);
        """
    )


def downgrade() -> None:
    """Drop the set-based submission's functions; the next upgrade re-applies the files (a
    downgraded service's own files bring fb_submit_flag_request back)."""
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
