"""The exact counts behind each published transparency report, kept private.

A correction (revision) of a published report is allowed only when the change it makes
to every finest cell is zero or at least five, all in one direction
(app/stats/revisions.py). The published document hides small counts, so the old
revision's exact cells cannot be read back from it: they are stored here, beside the
document, and no route or query of the public side ever selects them. Rows published
before this column existed have NULL, and cannot be revised.

Revision ID: 0018_report_exact_cells
Revises: 0017_set_submission
Create Date: 2026-12-21 09:00:00
"""

from collections.abc import Sequence

from app.migrations import execute_script

revision: str = "0018_report_exact_cells"
down_revision: str | None = "0017_set_submission"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add transparency_report.exact_cells."""
    execute_script("ALTER TABLE transparency_report ADD COLUMN exact_cells jsonb;")


def downgrade() -> None:
    """Drop transparency_report.exact_cells."""
    execute_script("ALTER TABLE transparency_report DROP COLUMN IF EXISTS exact_cells;")
