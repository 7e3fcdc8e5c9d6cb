"""Record which SQL definitions the database holds.

The living SQL functions and triggers moved out of migration history into `.sql` files
under `app/<domain>/sql/` (see app/sql_definitions.py). After every upgrade to head,
alembic/env.py applies them when the digest recorded here differs from the files' digest,
so at head with the same files an upgrade writes nothing.

Revision ID: 0008_sql_definitions
Revises: 0007_stats
Create Date: 2026-12-01 09:00:00
"""

from collections.abc import Sequence

from app.migrations import execute_script

revision: str = "0008_sql_definitions"
down_revision: str | None = "0007_stats"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the one-row table of the applied definitions' digest."""
    execute_script(
        """
        CREATE TABLE sql_definitions (
            digest text NOT NULL,
            applied_at timestamptz NOT NULL DEFAULT now()
        );
        """
    )


def downgrade() -> None:
    """Drop it (the functions stay as the files made them; older revisions' downgrades drop
    them)."""
    execute_script("DROP TABLE IF EXISTS sql_definitions;")
