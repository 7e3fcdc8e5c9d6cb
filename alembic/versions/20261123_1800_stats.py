"""Statistics: exact rollups of flag outcomes and response times, and platform reports.

Dashboards ask for grouped counts over millions of flags in milliseconds, and the answer
must always equal a direct COUNT(*) over `flag`. So the counts are kept in rollup tables
by a trigger on `flag`, in the same transaction as the change they count: whatever closes
a flag (one outcome, a batch, an importer, a backdating fix-up) updates the rollup, or
neither happens. The trigger compares what the old and the new row contribute and applies
the difference, so any UPDATE or DELETE of a flag (not only the usual transitions) keeps
the rollups exact.

Work on the submission hot path is avoided: the INSERT trigger's WHEN clause is false for
a new flag (it is never closed, withdrawn or acknowledged at submission), so PostgreSQL
does not even queue the trigger event; only imports of finished flags pay for it.

The trigger writes only day rows (`outcome_rollup_day`, `response_time_rollup_day`,
`withdrawal_rollup`), and only rows of its own: `stripe` is the writing transaction's id.
Two transactions therefore never update the same row: concurrent outcomes never wait for
each other and cannot deadlock on the rollups, whatever order they close flags in. (A
stripe of txid mod 8 would still collide one time in eight, and two batches closing the
same keys in opposite orders could deadlock.) Such rows are "pending".

A periodic job, fb_stats_fold, moves pending rows of committed transactions into stripe 0
and, in the same statement, adds them to the coarser tables that only it writes: the
month grain (`outcome_rollup_month`, `response_time_rollup_month`) and narrower cuboids:
`outcome_rollup_narrow_*` (country, agency, platform and action only, which answers the
dashboards' main question from a few rows per month) and `response_time_rollup_month_by`
(response times by one dimension at a time). Readers read the folded tables plus
the pending day rows of their range (a partial index finds them), so every answer is
exact whether or not the fold has run; the fold only keeps reads fast. A range is read as
whole months from the month tables and only its ragged edges from the day tables.

Which time buckets a flag: `closed_at`, when FlagBridge recorded the outcome, not the
platform's `actioned_at`. actioned_at is the platform's claim and may lie years back (it is
accepted up to ten years before submission); bucketing by it would keep rewriting months
that dashboards have already published. closed_at only moves forward with the service's
clock, so a finished month's figures stay finished.

Response times are kept as histograms (log-scale buckets of seconds, 8 per doubling)
because exact percentiles need every value. See app/stats/percentiles.py for the bucket
bounds and the error bound of the interpolated median and 90th percentile.

The functions and triggers live in app/stats/sql/rollups.sql.

Revision ID: 0007_stats
Revises: 0006_audit_partitions
Create Date: 2026-11-23 18:00:00
"""

from collections.abc import Sequence

from app.migrations import execute_script
from app.sql_definitions import apply_in_migration

revision: str = "0007_stats"
down_revision: str | None = "0006_audit_partitions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = r"""
-- Closed flags per UTC day of closed_at and every dimension. Written by the trigger
-- (stripe = txid, "pending") and by the fold (stripe 0).
CREATE TABLE outcome_rollup_day (
    day date NOT NULL,
    country text NOT NULL,
    agency_org_id uuid NOT NULL,
    platform text NOT NULL,
    kind text NOT NULL,
    category text NOT NULL,
    action text NOT NULL,
    stripe bigint NOT NULL,
    flags integer NOT NULL,
    CONSTRAINT pk_outcome_rollup_day PRIMARY KEY (day, country, agency_org_id, platform, kind,
        category, action, stripe)
);
-- The pending rows: few (those since the last fold), read by every query and the fold.
CREATE INDEX ix_outcome_rollup_day_pending ON outcome_rollup_day (day) WHERE stripe <> 0;

-- The same per month; written only by the fold.
CREATE TABLE outcome_rollup_month (
    month date NOT NULL,
    country text NOT NULL,
    agency_org_id uuid NOT NULL,
    platform text NOT NULL,
    kind text NOT NULL,
    category text NOT NULL,
    action text NOT NULL,
    flags integer NOT NULL,
    CONSTRAINT pk_outcome_rollup_month PRIMARY KEY (month, country, agency_org_id, platform,
        kind, category, action)
);

-- Country, agency, platform and action only (no kind or category): per day and per month,
-- written only by the fold.
CREATE TABLE outcome_rollup_narrow_day (
    day date NOT NULL,
    country text NOT NULL,
    agency_org_id uuid NOT NULL,
    platform text NOT NULL,
    action text NOT NULL,
    flags integer NOT NULL,
    CONSTRAINT pk_outcome_rollup_narrow_day PRIMARY KEY (day, country, agency_org_id,
        platform, action)
);
CREATE TABLE outcome_rollup_narrow_month (
    month date NOT NULL,
    country text NOT NULL,
    agency_org_id uuid NOT NULL,
    platform text NOT NULL,
    action text NOT NULL,
    flags integer NOT NULL,
    CONSTRAINT pk_outcome_rollup_narrow_month PRIMARY KEY (month, country, agency_org_id,
        platform, action)
);

-- Histograms of time to acknowledge (by day of acknowledged_at) and to outcome (by day of
-- closed_at); bucket as in fb_stats_bucket. Trigger (pending) and fold (stripe 0).
CREATE TABLE response_time_rollup_day (
    day date NOT NULL,
    platform text NOT NULL,
    priority text NOT NULL,
    kind text NOT NULL,
    measure text NOT NULL,
    bucket smallint NOT NULL,
    stripe bigint NOT NULL,
    flags integer NOT NULL,
    CONSTRAINT pk_response_time_rollup_day PRIMARY KEY (day, platform, priority, kind,
        measure, bucket, stripe),
    CONSTRAINT ck_response_time_rollup_day_measure CHECK (measure IN ('acknowledge', 'outcome'))
);
CREATE INDEX ix_response_time_rollup_day_pending ON response_time_rollup_day (day)
    WHERE stripe <> 0;
CREATE TABLE response_time_rollup_month (
    month date NOT NULL,
    platform text NOT NULL,
    priority text NOT NULL,
    kind text NOT NULL,
    measure text NOT NULL,
    bucket smallint NOT NULL,
    flags integer NOT NULL,
    CONSTRAINT pk_response_time_rollup_month PRIMARY KEY (month, platform, priority, kind,
        measure, bucket)
);
-- The same summed over all but one dimension (`dimension` is platform, priority or kind,
-- and `value` its value; or 'all' and ''): dashboards group response times by one of
-- them, and this answers from a quarter of the rows or less. Written only by the fold.
CREATE TABLE response_time_rollup_month_by (
    month date NOT NULL,
    dimension text NOT NULL,
    value text NOT NULL,
    measure text NOT NULL,
    bucket smallint NOT NULL,
    flags integer NOT NULL,
    CONSTRAINT pk_response_time_rollup_month_by PRIMARY KEY (month, dimension, value, measure,
        bucket)
);

-- Withdrawn flags per agency and month of withdrawn_at (with the outcome rollups and the
-- live flags they make each agency's "flags sent").
CREATE TABLE withdrawal_rollup (
    agency_org_id uuid NOT NULL,
    month date NOT NULL,
    stripe bigint NOT NULL,
    flags integer NOT NULL,
    CONSTRAINT pk_withdrawal_rollup PRIMARY KEY (agency_org_id, month, stripe)
);
CREATE INDEX ix_withdrawal_rollup_pending ON withdrawal_rollup (stripe) WHERE stripe <> 0;

-- A platform's own totals for a period [period_start, period_end), replaced on resubmission.
CREATE TABLE platform_report (
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    platform_org_id uuid NOT NULL,
    platform text NOT NULL,
    period_start date NOT NULL,
    period_end date NOT NULL,
    revision integer NOT NULL DEFAULT 1,
    submitted_by_client_id uuid NOT NULL,
    submitted_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT pk_platform_report PRIMARY KEY (id),
    CONSTRAINT fk_platform_report_platform_org_id_organization FOREIGN KEY (platform_org_id)
        REFERENCES organization (id),
    CONSTRAINT uq_platform_report_platform_org_id_period_start_period_end
        UNIQUE (platform_org_id, period_start, period_end),
    CONSTRAINT ck_platform_report_period CHECK (period_end > period_start)
);
CREATE INDEX ix_platform_report_period_start ON platform_report (period_start);

CREATE TABLE platform_report_row (
    report_id uuid NOT NULL,
    row_no integer NOT NULL,
    country text,
    category text NOT NULL,
    action text NOT NULL,
    source text NOT NULL,
    count bigint NOT NULL,
    CONSTRAINT pk_platform_report_row PRIMARY KEY (report_id, row_no),
    CONSTRAINT fk_platform_report_row_report_id_platform_report FOREIGN KEY (report_id)
        REFERENCES platform_report (id) ON DELETE CASCADE,
    CONSTRAINT ck_platform_report_row_count CHECK (count >= 0),
    CONSTRAINT ck_platform_report_row_source CHECK (source IN ('own_detection', 'other'))
);
"""


def upgrade() -> None:
    """Create the rollup and platform report tables, the rollup trigger and its helpers."""
    execute_script(TABLES)
    # The trigger functions and the triggers on flag live in app/stats/sql/rollups.sql.
    apply_in_migration("stats/sql/rollups.sql")


def downgrade() -> None:
    """Drop the triggers, functions and tables."""
    execute_script(
        """
        DROP TRIGGER IF EXISTS flag_stats_delete ON flag;
        DROP TRIGGER IF EXISTS flag_stats_update ON flag;
        DROP TRIGGER IF EXISTS flag_stats_insert ON flag;
        DROP FUNCTION IF EXISTS fb_stats_rebuild();
        DROP FUNCTION IF EXISTS fb_stats_fold(integer);
        DROP FUNCTION IF EXISTS fb_stats_flag_changed();
        DROP FUNCTION IF EXISTS fb_stats_add_withdrawn(flag, integer, bigint);
        DROP FUNCTION IF EXISTS fb_stats_add_acknowledged(flag, integer, bigint);
        DROP FUNCTION IF EXISTS fb_stats_add_closed(flag, integer, bigint);
        DROP FUNCTION IF EXISTS fb_stats_stripe();
        DROP FUNCTION IF EXISTS fb_stats_month(date);
        DROP FUNCTION IF EXISTS fb_stats_day(timestamptz);
        DROP FUNCTION IF EXISTS fb_stats_bucket(double precision);
        DROP TABLE IF EXISTS platform_report_row, platform_report, withdrawal_rollup,
                             response_time_rollup_month_by, response_time_rollup_month,
                             response_time_rollup_day,
                             outcome_rollup_narrow_month, outcome_rollup_narrow_day,
                             outcome_rollup_month, outcome_rollup_day;
        """
    )
