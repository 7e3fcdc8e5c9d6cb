"""Published transparency reports: frozen, signed, append-only.

A row is one revision of one period's report: the canonical JSON served byte for byte and
its compact JWS. Like the audit log the table refuses UPDATE, DELETE and TRUNCATE for every
role, so a published report can only be corrected by a new revision beside it.

Revision ID: 0014_transparency_reports
Revises: 0013_retention
Create Date: 2026-12-18 09:00:00
"""

from collections.abc import Sequence

from app.migrations import execute_script

revision: str = "0014_transparency_reports"
down_revision: str | None = "0013_retention"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create transparency_report, append-only."""
    execute_script(
        """
        CREATE TABLE transparency_report (
            period text NOT NULL,
            revision integer NOT NULL,
            first_month date NOT NULL,
            last_month date NOT NULL,
            published_at timestamptz NOT NULL,
            document bytea NOT NULL,
            signature text NOT NULL,
            kid text NOT NULL,
            CONSTRAINT pk_transparency_report PRIMARY KEY (period, revision),
            CONSTRAINT ck_transparency_report_revision_positive CHECK (revision >= 1),
            CONSTRAINT ck_transparency_report_months_ordered CHECK (first_month <= last_month)
        );
        CREATE TRIGGER transparency_report_no_update_delete
            BEFORE UPDATE OR DELETE ON transparency_report
            FOR EACH ROW EXECUTE FUNCTION fb_audit_is_append_only();
        CREATE TRIGGER transparency_report_no_truncate
            BEFORE TRUNCATE ON transparency_report
            FOR EACH STATEMENT EXECUTE FUNCTION fb_audit_is_append_only();
        """
    )


def downgrade() -> None:
    """Drop transparency_report (its reports are gone with it)."""
    execute_script("DROP TABLE IF EXISTS transparency_report;")
