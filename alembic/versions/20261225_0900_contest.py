"""Contest and reconsideration of a closed flag's outcome (issue 15).

An agency may contest a `no_violation`, `insufficient_information` or `account_not_found`
outcome once: the flag moves to the new status `reconsideration` (live: the platform owes
a final answer) and the platform answers with a reconsidered outcome. Both decisions stay
on the flag: the first in the existing `outcome_action`, `outcome_note`, `actioned_at`,
`closed_at` (so every rollup keeps counting first outcomes), the second in the new
`reconsidered_*` columns, with `overturned` as app/flags/contest.py decided it.

`contest_rollup_day` counts contested and overturned flags by the day and key of their
first outcome (the key of `outcome_rollup_day` plus `measure`), kept by the trigger in
app/stats/sql/contest_rollups.sql with the same stripes as the other rollups, so
concurrent contests never wait for each other. Contests are rare, so it has no month
grain: readers sum the day rows of their range.

Revision ID: 0021_contest
Revises: 0020_set_rollups
Create Date: 2026-12-23 09:00:00
"""

from collections.abc import Sequence

from app.migrations import execute_script

revision: str = "0021_contest"
down_revision: str | None = "0020_set_rollups"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OUTCOMES = (
    "'account_suspended', 'content_removed', 'account_restricted', 'no_violation', "
    "'account_not_found', 'insufficient_information', 'account_withheld_in_country'"
)


def upgrade() -> None:
    """Add the reconsideration status, the contest columns and contest_rollup_day."""
    execute_script(
        f"""
ALTER TABLE flag DROP CONSTRAINT ck_flag_status;
ALTER TABLE flag ADD CONSTRAINT ck_flag_status CHECK (status IN ('held', 'open',
    'acknowledged', 'info_requested', 'closed', 'withdrawn', 'reconsideration'));
ALTER TABLE flag
    ADD COLUMN contested_at timestamptz,
    ADD COLUMN contest_reason text,
    ADD COLUMN contest_evidence jsonb,
    ADD COLUMN reconsidered_at timestamptz,
    ADD COLUMN reconsidered_action text,
    ADD COLUMN reconsidered_note text,
    ADD COLUMN reconsidered_actioned_at timestamptz,
    ADD COLUMN overturned boolean,
    ADD CONSTRAINT ck_flag_reconsidered_action CHECK (reconsidered_action IS NULL
        OR reconsidered_action IN ({OUTCOMES}));

CREATE TABLE contest_rollup_day (
    day date NOT NULL,
    country text NOT NULL,
    agency_org_id uuid NOT NULL,
    platform text NOT NULL,
    kind text NOT NULL,
    category text NOT NULL,
    action text NOT NULL,
    measure text NOT NULL,
    stripe bigint NOT NULL,
    flags integer NOT NULL,
    CONSTRAINT pk_contest_rollup_day PRIMARY KEY (day, country, agency_org_id, platform,
        kind, category, action, measure, stripe)
);
CREATE INDEX ix_contest_rollup_day_pending ON contest_rollup_day (day) WHERE stripe <> 0;
"""
    )


def downgrade() -> None:
    """Drop what upgrade added (flags in reconsideration go back to closed); the next
    upgrade re-applies the SQL definitions."""
    execute_script(
        """
DROP TRIGGER IF EXISTS flag_contest_stats_update ON flag;
DROP TRIGGER IF EXISTS flag_contest_stats_insert ON flag;
DROP TRIGGER IF EXISTS flag_contest_stats_delete ON flag;
DROP FUNCTION IF EXISTS fb_stats_contest_changed();
DROP FUNCTION IF EXISTS fb_stats_contest_add(flag, integer, bigint);
DROP FUNCTION IF EXISTS fb_stats_contest_fold(integer);
DROP FUNCTION IF EXISTS fb_stats_contest_rebuild();
DROP FUNCTION IF EXISTS fb_flag_contest(flag);
DROP TABLE IF EXISTS contest_rollup_day;
UPDATE flag SET status = 'closed' WHERE status = 'reconsideration';
ALTER TABLE flag DROP CONSTRAINT ck_flag_reconsidered_action;
ALTER TABLE flag
    DROP COLUMN contested_at,
    DROP COLUMN contest_reason,
    DROP COLUMN contest_evidence,
    DROP COLUMN reconsidered_at,
    DROP COLUMN reconsidered_action,
    DROP COLUMN reconsidered_note,
    DROP COLUMN reconsidered_actioned_at,
    DROP COLUMN overturned;
ALTER TABLE flag DROP CONSTRAINT ck_flag_status;
ALTER TABLE flag ADD CONSTRAINT ck_flag_status CHECK (status IN ('held', 'open',
    'acknowledged', 'info_requested', 'closed', 'withdrawn'));
DELETE FROM sql_definitions;
"""
    )
