"""Statements of reasons on outcomes, the action account_withheld_in_country, and the
statement rollup.

`outcome_statement` holds the platform's structured reasons for an outcome, in the shape
of the DSA Transparency Database's statements of reasons (app/flags/statement_schemas.py
says which field maps to which). Its key is (flag_id, decision): decision 1 is a flag's
first outcome, 2 a reconsidered one. Rows are only inserted; the retention purge redacts
their free text (app/retention/sql/purge.sql).

`statement_rollup_day` counts statements per UTC day and every dimension of the outcome
rollup plus ground and scope, kept exact by the trigger in
app/stats/sql/statement_rollups.sql (striped and folded like outcome_rollup_day).

Revision ID: 0019_outcome_statements
Revises: 0018_report_exact_cells
Create Date: 2026-12-23 09:00:00
"""

from collections.abc import Sequence

from app.migrations import execute_script
from app.sql_definitions import apply_in_migration

revision: str = "0019_outcome_statements"
down_revision: str | None = "0018_report_exact_cells"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ACTIONS = (
    "'account_suspended', 'content_removed', 'account_restricted', 'no_violation', "
    "'account_not_found', 'insufficient_information'"
)
_WITH_WITHHELD = _ACTIONS + ", 'account_withheld_in_country'"


def upgrade() -> None:
    """Widen ck_flag_outcome; create outcome_statement and statement_rollup_day."""
    execute_script(
        f"""
        ALTER TABLE flag DROP CONSTRAINT ck_flag_outcome;
        ALTER TABLE flag ADD CONSTRAINT ck_flag_outcome
            CHECK (outcome_action IS NULL OR outcome_action IN ({_WITH_WITHHELD}));

        CREATE TABLE outcome_statement (
            flag_id uuid NOT NULL,
            decision smallint NOT NULL DEFAULT 1,
            action text NOT NULL,
            ground text NOT NULL,
            legal_provision text,
            terms_clause text,
            explanation text,
            automated_detection boolean NOT NULL,
            automated_decision text NOT NULL,
            territorial_scope text[],
            created_at timestamptz NOT NULL DEFAULT now(),
            redacted_at timestamptz,
            CONSTRAINT pk_outcome_statement PRIMARY KEY (flag_id, decision),
            CONSTRAINT fk_outcome_statement_flag_id_flag FOREIGN KEY (flag_id)
                REFERENCES flag (id),
            CONSTRAINT ck_outcome_statement_decision CHECK (decision >= 1),
            CONSTRAINT ck_outcome_statement_action CHECK (action IN ({_WITH_WITHHELD})),
            CONSTRAINT ck_outcome_statement_ground
                CHECK (ground IN ('illegal_content', 'terms_of_service')),
            CONSTRAINT ck_outcome_statement_automated_decision
                CHECK (automated_decision IN ('fully', 'partially', 'not_automated')),
            CONSTRAINT ck_outcome_statement_reference
                CHECK ((legal_provision IS NOT NULL) = (ground = 'illegal_content')
                       AND (terms_clause IS NOT NULL) = (ground = 'terms_of_service')),
            CONSTRAINT ck_outcome_statement_scope
                CHECK (territorial_scope IS NULL OR cardinality(territorial_scope) > 0)
        );

        CREATE TABLE statement_rollup_day (
            day date NOT NULL,
            country text NOT NULL,
            agency_org_id uuid NOT NULL,
            platform text NOT NULL,
            kind text NOT NULL,
            category text NOT NULL,
            action text NOT NULL,
            ground text NOT NULL,
            scope text NOT NULL,
            stripe bigint NOT NULL,
            flags integer NOT NULL,
            CONSTRAINT pk_statement_rollup_day PRIMARY KEY (day, country, agency_org_id,
                platform, kind, category, action, ground, scope, stripe)
        );
        CREATE INDEX ix_statement_rollup_day_pending ON statement_rollup_day (day)
            WHERE stripe <> 0;
        """
    )
    # Its rendering and the rollup trigger on the new table live in their definitions files
    # (applied here too, so upgrade after a downgrade finds them again).
    apply_in_migration("flags/sql/statement.sql", "stats/sql/statement_rollups.sql")


def downgrade() -> None:
    """Drop the statement tables and their functions; narrow ck_flag_outcome again."""
    execute_script(
        f"""
        DROP TABLE IF EXISTS statement_rollup_day;
        -- CASCADE: fb_stats_statement_add takes the table's row type.
        DROP TABLE IF EXISTS outcome_statement CASCADE;
        DROP FUNCTION IF EXISTS fb_stats_statement_changed();
        DROP FUNCTION IF EXISTS fb_stats_statement_kept();
        DROP FUNCTION IF EXISTS fb_stats_statement_fold(integer);
        DROP FUNCTION IF EXISTS fb_stats_statement_rebuild();
        DROP FUNCTION IF EXISTS fb_statement_doc(flag);
        UPDATE flag SET outcome_action = 'account_restricted'
            WHERE outcome_action = 'account_withheld_in_country';
        ALTER TABLE flag DROP CONSTRAINT ck_flag_outcome;
        ALTER TABLE flag ADD CONSTRAINT ck_flag_outcome
            CHECK (outcome_action IS NULL OR outcome_action IN ({_ACTIONS}));
        """
    )
