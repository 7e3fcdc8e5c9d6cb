"""The rollup trigger on flag updates works per statement; feed pages render flags as sets.

`flag_stats_update` becomes a statement-level trigger over its transition tables, and
`fb_stats_apply` (app/stats/sql/rollups.sql) adds what a set of changed flags contributes
with one INSERT ... ON CONFLICT per rollup table, instead of one trigger call and up to two
upserts per flag: a batch of 1,000 outcomes is one call. The per-flag helpers go. The flag's
JSON gains `fb_flag_docs` (a set of flags by id) and `fb_flag_platform_view`
(app/flags/sql/render.sql). The living definitions are applied after this revision.

Revision ID: 0020_set_rollups
Revises: 0019_outcome_statements
Create Date: 2026-12-23 09:00:00
"""

from collections.abc import Sequence

from app.migrations import execute_script

revision: str = "0020_set_rollups"
down_revision: str | None = "0019_outcome_statements"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Drop the per-flag rollup helpers that fb_stats_apply replaces."""
    execute_script(
        """
        DROP FUNCTION IF EXISTS fb_stats_add_withdrawn(flag, integer, bigint);
        DROP FUNCTION IF EXISTS fb_stats_add_acknowledged(flag, integer, bigint);
        DROP FUNCTION IF EXISTS fb_stats_add_closed(flag, integer, bigint);
        """
    )


def downgrade() -> None:
    """Drop the set-wise functions; the next upgrade re-applies the SQL definitions."""
    execute_script(
        """
        DROP FUNCTION IF EXISTS fb_stats_apply(flag[], flag[], bigint);
        DROP FUNCTION IF EXISTS fb_flag_docs(uuid[], boolean);
        DROP FUNCTION IF EXISTS fb_flag_platform_view(flag);
        """
    )
