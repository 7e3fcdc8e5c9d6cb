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

Each rollup is kept at two grains, `day` and `month` (a range query reads whole months
from the month grain and only the ragged edges from the day grain). Hot rows are avoided by
`stripe`: a transaction adds only to rows whose stripe is its own transaction id, so two
transactions never update the same row. Concurrent outcomes never wait for each other and
cannot deadlock on the rollup, whatever order they close flags in (a stripe of txid mod 8
would still collide one time in eight, and two batches closing the same keys in opposite
orders could deadlock). Readers sum over stripes. A periodic job (fb_stats_fold) folds
the rows of committed transactions into stripe 0, in one statement per table, so sums
never change and the tables stay one row per key; it never touches a row a writer can
still change, because writers only touch their own transaction's rows.

Which time buckets a flag: `closed_at`, when FlagBridge recorded the outcome, not the
platform's `actioned_at`. actioned_at is the platform's claim and may lie years back (it is
accepted up to ten years before submission); bucketing by it would keep rewriting months
that dashboards have already published. closed_at only moves forward with the service's
clock, so a finished month's figures stay finished.

Response times are kept as histograms (log-scale buckets of seconds, 8 per doubling)
because exact percentiles need every value. See app/stats/percentiles.py for the bucket
bounds and the error bound of the interpolated median and 90th percentile.

Revision ID: 0007_stats
Revises: 0005_audit_checkpoints
Create Date: 2026-11-23 18:00:00
"""

from collections.abc import Sequence

from app.migrations import execute_script

revision: str = "0007_stats"
down_revision: str | None = "0005_audit_checkpoints"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = r"""
CREATE TABLE outcome_rollup (
    period text NOT NULL,
    starts_on date NOT NULL,
    country text NOT NULL,
    agency_org_id uuid NOT NULL,
    platform text NOT NULL,
    kind text NOT NULL,
    category text NOT NULL,
    action text NOT NULL,
    stripe bigint NOT NULL,
    flags bigint NOT NULL,
    CONSTRAINT pk_outcome_rollup PRIMARY KEY (period, starts_on, country, agency_org_id,
        platform, kind, category, action, stripe),
    CONSTRAINT ck_outcome_rollup_period CHECK (period IN ('day', 'month'))
);
-- What the fold job has left to do (rows of transactions since the last fold): small.
CREATE INDEX ix_outcome_rollup_unfolded ON outcome_rollup (stripe) WHERE stripe <> 0;

CREATE TABLE response_time_rollup (
    period text NOT NULL,
    starts_on date NOT NULL,
    platform text NOT NULL,
    priority text NOT NULL,
    kind text NOT NULL,
    measure text NOT NULL,
    bucket smallint NOT NULL,
    stripe bigint NOT NULL,
    flags bigint NOT NULL,
    CONSTRAINT pk_response_time_rollup PRIMARY KEY (period, starts_on, platform, priority,
        kind, measure, bucket, stripe),
    CONSTRAINT ck_response_time_rollup_period CHECK (period IN ('day', 'month')),
    CONSTRAINT ck_response_time_rollup_measure CHECK (measure IN ('acknowledge', 'outcome'))
);
CREATE INDEX ix_response_time_rollup_unfolded ON response_time_rollup (stripe)
    WHERE stripe <> 0;

-- Per agency and month, its settled flags (closed and actioned by the month of closed_at,
-- withdrawn by the month of withdrawn_at): with the live flags, they make "flags sent" and
-- the share that led to action by reading a few rows per agency. (Per month rather than
-- all-time so that a bulk import in one transaction does not pile thousands of updates on
-- one row per agency.)
CREATE TABLE agency_rollup (
    agency_org_id uuid NOT NULL,
    starts_on date NOT NULL,
    stripe bigint NOT NULL,
    closed bigint NOT NULL DEFAULT 0,
    actioned bigint NOT NULL DEFAULT 0,
    withdrawn bigint NOT NULL DEFAULT 0,
    CONSTRAINT pk_agency_rollup PRIMARY KEY (agency_org_id, starts_on, stripe)
);
CREATE INDEX ix_agency_rollup_unfolded ON agency_rollup (stripe) WHERE stripe <> 0;

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

FUNCTIONS = r"""
-- The histogram bucket of a duration: 0 is [0 s, 1 s); bucket b >= 1 is
-- [2^((b-1)/8) s, 2^(b/8) s). Mirrored by app/stats/percentiles.py.
CREATE FUNCTION fb_stats_bucket(p_seconds double precision) RETURNS smallint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (CASE WHEN p_seconds IS NULL OR p_seconds < 1 THEN 0
                 ELSE least(1 + floor(8 * ln(p_seconds) / ln(2)), 255) END)::smallint
$$;

-- Which stripe this transaction adds to: its own id, so no other transaction writes it.
CREATE FUNCTION fb_stats_stripe() RETURNS bigint
LANGUAGE sql VOLATILE AS $$
    SELECT pg_current_xact_id()::text::bigint
$$;

-- Add p_delta (+1 or -1) for what a closed flag contributes: its outcome count (day and
-- month of closed_at), its time to outcome, and its agency's totals.
CREATE FUNCTION fb_stats_add_closed(p flag, p_delta integer, p_stripe bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_day date := (p.closed_at AT TIME ZONE 'UTC')::date;
    v_month date := date_trunc('month', (p.closed_at AT TIME ZONE 'UTC')::date)::date;
BEGIN
    INSERT INTO outcome_rollup AS r (period, starts_on, country, agency_org_id, platform, kind,
                                     category, action, stripe, flags)
    VALUES ('day', v_day, p.country, p.agency_org_id, p.platform, p.kind, p.category,
            p.outcome_action, p_stripe, p_delta),
           ('month', v_month, p.country, p.agency_org_id, p.platform, p.kind, p.category,
            p.outcome_action, p_stripe, p_delta)
    ON CONFLICT (period, starts_on, country, agency_org_id, platform, kind, category, action,
                 stripe)
    DO UPDATE SET flags = r.flags + EXCLUDED.flags;

    IF p.opened_at IS NOT NULL THEN
        INSERT INTO response_time_rollup AS r (period, starts_on, platform, priority, kind,
                                               measure, bucket, stripe, flags)
        SELECT g.period, g.starts_on, p.platform, p.priority, p.kind, 'outcome',
               fb_stats_bucket(extract(epoch FROM p.closed_at - p.opened_at)::float8),
               p_stripe, p_delta
        FROM (VALUES ('day', v_day), ('month', v_month)) AS g (period, starts_on)
        ON CONFLICT (period, starts_on, platform, priority, kind, measure, bucket, stripe)
        DO UPDATE SET flags = r.flags + EXCLUDED.flags;
    END IF;

    INSERT INTO agency_rollup AS r (agency_org_id, starts_on, stripe, closed, actioned)
    VALUES (p.agency_org_id, v_month, p_stripe, p_delta,
            CASE WHEN p.outcome_action IN ('account_suspended', 'content_removed',
                                           'account_restricted') THEN p_delta ELSE 0 END)
    ON CONFLICT (agency_org_id, starts_on, stripe)
    DO UPDATE SET closed = r.closed + EXCLUDED.closed, actioned = r.actioned + EXCLUDED.actioned;
END
$$;

-- Add p_delta for an acknowledged flag's time to acknowledge (day of acknowledged_at).
CREATE FUNCTION fb_stats_add_acknowledged(p flag, p_delta integer, p_stripe bigint)
RETURNS void
LANGUAGE sql AS $$
    INSERT INTO response_time_rollup AS r (period, starts_on, platform, priority, kind,
                                           measure, bucket, stripe, flags)
    SELECT g.period, g.starts_on, p.platform, p.priority, p.kind, 'acknowledge',
           fb_stats_bucket(extract(epoch FROM p.acknowledged_at - p.opened_at)::float8),
           p_stripe, p_delta
    FROM (VALUES ('day', (p.acknowledged_at AT TIME ZONE 'UTC')::date),
                 ('month', date_trunc('month', (p.acknowledged_at AT TIME ZONE 'UTC')::date)::date))
         AS g (period, starts_on)
    ON CONFLICT (period, starts_on, platform, priority, kind, measure, bucket, stripe)
    DO UPDATE SET flags = r.flags + EXCLUDED.flags;
$$;

CREATE FUNCTION fb_stats_add_withdrawn(p flag, p_delta integer, p_stripe bigint)
RETURNS void
LANGUAGE sql AS $$
    INSERT INTO agency_rollup AS r (agency_org_id, starts_on, stripe, withdrawn)
    VALUES (p.agency_org_id, date_trunc('month', (p.withdrawn_at AT TIME ZONE 'UTC')::date)::date,
            p_stripe, p_delta)
    ON CONFLICT (agency_org_id, starts_on, stripe)
    DO UPDATE SET withdrawn = r.withdrawn + EXCLUDED.withdrawn;
$$;

-- The rollup trigger. For each measure it compares what the old row and the new row
-- contribute; when they differ it takes the old contribution away and adds the new one.
-- Closed is terminal in the state machine, so in practice this is "+1 when a flag
-- closes", but an importer, a data fix or a retention purge stays exact too.
CREATE FUNCTION fb_stats_flag_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_stripe bigint := fb_stats_stripe();
    v_old_closed boolean := TG_OP <> 'INSERT' AND OLD.status = 'closed';
    v_new_closed boolean := TG_OP <> 'DELETE' AND NEW.status = 'closed';
    v_old_ack boolean := TG_OP <> 'INSERT' AND OLD.acknowledged_at IS NOT NULL
                         AND OLD.opened_at IS NOT NULL;
    v_new_ack boolean := TG_OP <> 'DELETE' AND NEW.acknowledged_at IS NOT NULL
                         AND NEW.opened_at IS NOT NULL;
    v_old_wd boolean := TG_OP <> 'INSERT' AND OLD.status = 'withdrawn';
    v_new_wd boolean := TG_OP <> 'DELETE' AND NEW.status = 'withdrawn';
    v_same_closed boolean := false;
    v_same_ack boolean := false;
    v_same_wd boolean := false;
BEGIN
    IF TG_OP = 'UPDATE' THEN
        v_same_closed := v_old_closed AND v_new_closed
            AND (OLD.closed_at, OLD.opened_at, OLD.country, OLD.agency_org_id, OLD.platform,
                 OLD.kind, OLD.category, OLD.priority, OLD.outcome_action)
                IS NOT DISTINCT FROM
                (NEW.closed_at, NEW.opened_at, NEW.country, NEW.agency_org_id, NEW.platform,
                 NEW.kind, NEW.category, NEW.priority, NEW.outcome_action);
        v_same_ack := v_old_ack AND v_new_ack
            AND (OLD.acknowledged_at, OLD.opened_at, OLD.platform, OLD.priority, OLD.kind)
                IS NOT DISTINCT FROM
                (NEW.acknowledged_at, NEW.opened_at, NEW.platform, NEW.priority, NEW.kind);
        v_same_wd := v_old_wd AND v_new_wd
            AND (OLD.agency_org_id, OLD.withdrawn_at) IS NOT DISTINCT FROM
                (NEW.agency_org_id, NEW.withdrawn_at);
    END IF;
    IF v_old_closed AND NOT v_same_closed THEN
        PERFORM fb_stats_add_closed(OLD, -1, v_stripe);
    END IF;
    IF v_new_closed AND NOT v_same_closed THEN
        PERFORM fb_stats_add_closed(NEW, 1, v_stripe);
    END IF;
    IF v_old_ack AND NOT v_same_ack THEN
        PERFORM fb_stats_add_acknowledged(OLD, -1, v_stripe);
    END IF;
    IF v_new_ack AND NOT v_same_ack THEN
        PERFORM fb_stats_add_acknowledged(NEW, 1, v_stripe);
    END IF;
    IF v_old_wd AND NOT v_same_wd THEN
        PERFORM fb_stats_add_withdrawn(OLD, -1, v_stripe);
    END IF;
    IF v_new_wd AND NOT v_same_wd THEN
        PERFORM fb_stats_add_withdrawn(NEW, 1, v_stripe);
    END IF;
    RETURN NULL;
END
$$;

-- A new flag is open or held, so this WHEN is false on the submission path and costs no
-- trigger call; it fires only for imports of flags that are already finished.
CREATE TRIGGER flag_stats_insert AFTER INSERT ON flag FOR EACH ROW
    WHEN (NEW.status IN ('closed', 'withdrawn') OR NEW.acknowledged_at IS NOT NULL)
    EXECUTE FUNCTION fb_stats_flag_changed();
-- Fires only when a column that some rollup depends on changes (not, e.g., for
-- delivered_at or due_at), and only for rows that count somewhere before or after.
CREATE TRIGGER flag_stats_update AFTER UPDATE ON flag FOR EACH ROW
    WHEN ((OLD.status IN ('closed', 'withdrawn') OR NEW.status IN ('closed', 'withdrawn')
           OR OLD.acknowledged_at IS NOT NULL OR NEW.acknowledged_at IS NOT NULL)
          AND (OLD.status, OLD.closed_at, OLD.withdrawn_at, OLD.opened_at,
               OLD.acknowledged_at, OLD.country, OLD.agency_org_id, OLD.platform, OLD.kind,
               OLD.category, OLD.priority, OLD.outcome_action)
              IS DISTINCT FROM
              (NEW.status, NEW.closed_at, NEW.withdrawn_at, NEW.opened_at,
               NEW.acknowledged_at, NEW.country, NEW.agency_org_id, NEW.platform, NEW.kind,
               NEW.category, NEW.priority, NEW.outcome_action))
    EXECUTE FUNCTION fb_stats_flag_changed();
CREATE TRIGGER flag_stats_delete AFTER DELETE ON flag FOR EACH ROW
    WHEN (OLD.status IN ('closed', 'withdrawn') OR OLD.acknowledged_at IS NOT NULL)
    EXECUTE FUNCTION fb_stats_flag_changed();

-- Recompute every rollup from the flag table (repair, or after a bulk load with the
-- triggers disabled). Blocks writers to flag while it runs; readers carry on.
CREATE FUNCTION fb_stats_rebuild() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    LOCK TABLE flag IN SHARE MODE;
    DELETE FROM outcome_rollup;
    DELETE FROM response_time_rollup;
    DELETE FROM agency_rollup;
    INSERT INTO outcome_rollup (period, starts_on, country, agency_org_id, platform, kind,
                                category, action, stripe, flags)
    SELECT g.period, g.starts_on, f.country, f.agency_org_id, f.platform, f.kind, f.category,
           f.outcome_action, 0, count(*)
    FROM flag f
    CROSS JOIN LATERAL (VALUES
        ('day', (f.closed_at AT TIME ZONE 'UTC')::date),
        ('month', date_trunc('month', (f.closed_at AT TIME ZONE 'UTC')::date)::date))
        AS g (period, starts_on)
    WHERE f.status = 'closed'
    GROUP BY 1, 2, 3, 4, 5, 6, 7, 8;

    INSERT INTO response_time_rollup (period, starts_on, platform, priority, kind, measure,
                                      bucket, stripe, flags)
    SELECT g.period, g.starts_on, m.platform, m.priority, m.kind, m.measure,
           fb_stats_bucket(m.seconds), 0, count(*)
    FROM (
        SELECT f.platform, f.priority, f.kind, 'outcome' AS measure, f.closed_at AS at,
               extract(epoch FROM f.closed_at - f.opened_at)::float8 AS seconds
        FROM flag f WHERE f.status = 'closed' AND f.opened_at IS NOT NULL
        UNION ALL
        SELECT f.platform, f.priority, f.kind, 'acknowledge', f.acknowledged_at,
               extract(epoch FROM f.acknowledged_at - f.opened_at)::float8
        FROM flag f WHERE f.acknowledged_at IS NOT NULL AND f.opened_at IS NOT NULL
    ) m
    CROSS JOIN LATERAL (VALUES
        ('day', (m.at AT TIME ZONE 'UTC')::date),
        ('month', date_trunc('month', (m.at AT TIME ZONE 'UTC')::date)::date))
        AS g (period, starts_on)
    GROUP BY 1, 2, 3, 4, 5, 6, 7;

    INSERT INTO agency_rollup (agency_org_id, starts_on, stripe, closed, actioned, withdrawn)
    SELECT f.agency_org_id,
           date_trunc('month',
                      (coalesce(f.closed_at, f.withdrawn_at) AT TIME ZONE 'UTC')::date)::date,
           0,
           count(*) FILTER (WHERE f.status = 'closed'),
           count(*) FILTER (WHERE f.status = 'closed' AND f.outcome_action IN (
               'account_suspended', 'content_removed', 'account_restricted')),
           count(*) FILTER (WHERE f.status = 'withdrawn')
    FROM flag f
    WHERE f.status IN ('closed', 'withdrawn')
    GROUP BY 1, 2;
END
$$;

-- Fold the rows of committed transactions (stripe <> 0) into stripe 0, at most p_limit
-- rows per table per call. Each table is folded by one statement that deletes the rows and
-- adds their sum, so readers see either before or after, and sums never change. Writers
-- only ever touch rows of their own, uncommitted transaction, which the fold cannot see, so
-- the two never wait for each other. One folder at a time (an advisory lock); the others
-- return 0. Returns the most rows moved from one table (call again while that is p_limit).
-- A correction can leave a row at zero; readers skip sums of zero, so it is harmless.
CREATE FUNCTION fb_stats_fold(p_limit integer) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    v_outcomes integer;
    v_times integer;
    v_agencies integer;
BEGIN
    IF NOT pg_try_advisory_xact_lock(7243002) THEN
        RETURN 0;
    END IF;
    WITH moved AS (
        DELETE FROM outcome_rollup r
        WHERE r.ctid IN (SELECT ctid FROM outcome_rollup WHERE stripe <> 0 LIMIT p_limit)
        RETURNING r.*
    ), folded AS (
        INSERT INTO outcome_rollup AS r (period, starts_on, country, agency_org_id, platform,
                                         kind, category, action, stripe, flags)
        SELECT period, starts_on, country, agency_org_id, platform, kind, category, action,
               0, sum(flags)
        FROM moved
        GROUP BY period, starts_on, country, agency_org_id, platform, kind, category, action
        ON CONFLICT (period, starts_on, country, agency_org_id, platform, kind, category,
                     action, stripe)
        DO UPDATE SET flags = r.flags + EXCLUDED.flags
    )
    SELECT count(*) INTO v_outcomes FROM moved;

    WITH moved AS (
        DELETE FROM response_time_rollup r
        WHERE r.ctid IN (SELECT ctid FROM response_time_rollup WHERE stripe <> 0
                         LIMIT p_limit)
        RETURNING r.*
    ), folded AS (
        INSERT INTO response_time_rollup AS r (period, starts_on, platform, priority, kind,
                                               measure, bucket, stripe, flags)
        SELECT period, starts_on, platform, priority, kind, measure, bucket, 0, sum(flags)
        FROM moved
        GROUP BY period, starts_on, platform, priority, kind, measure, bucket
        ON CONFLICT (period, starts_on, platform, priority, kind, measure, bucket, stripe)
        DO UPDATE SET flags = r.flags + EXCLUDED.flags
    )
    SELECT count(*) INTO v_times FROM moved;

    WITH moved AS (
        DELETE FROM agency_rollup r
        WHERE r.ctid IN (SELECT ctid FROM agency_rollup WHERE stripe <> 0 LIMIT p_limit)
        RETURNING r.*
    ), folded AS (
        INSERT INTO agency_rollup AS r (agency_org_id, starts_on, stripe, closed, actioned,
                                        withdrawn)
        SELECT agency_org_id, starts_on, 0, sum(closed), sum(actioned), sum(withdrawn)
        FROM moved
        GROUP BY agency_org_id, starts_on
        ON CONFLICT (agency_org_id, starts_on, stripe)
        DO UPDATE SET closed = r.closed + EXCLUDED.closed,
                      actioned = r.actioned + EXCLUDED.actioned,
                      withdrawn = r.withdrawn + EXCLUDED.withdrawn
    )
    SELECT count(*) INTO v_agencies FROM moved;
    RETURN greatest(v_outcomes, v_times, v_agencies);
END
$$;
"""


def upgrade() -> None:
    """Create the rollup and platform report tables, the rollup trigger and its helpers."""
    execute_script(TABLES)
    execute_script(FUNCTIONS)


def downgrade() -> None:
    """Drop the triggers, functions and tables."""
    execute_script(
        """
        DROP TRIGGER IF EXISTS flag_stats_delete ON flag;
        DROP TRIGGER IF EXISTS flag_stats_update ON flag;
        DROP TRIGGER IF EXISTS flag_stats_insert ON flag;
        DROP FUNCTION IF EXISTS fb_stats_fold(integer);
        DROP FUNCTION IF EXISTS fb_stats_rebuild();
        DROP FUNCTION IF EXISTS fb_stats_flag_changed();
        DROP FUNCTION IF EXISTS fb_stats_add_withdrawn(flag, integer, bigint);
        DROP FUNCTION IF EXISTS fb_stats_add_acknowledged(flag, integer, bigint);
        DROP FUNCTION IF EXISTS fb_stats_add_closed(flag, integer, bigint);
        DROP FUNCTION IF EXISTS fb_stats_stripe();
        DROP FUNCTION IF EXISTS fb_stats_bucket(double precision);
        DROP TABLE IF EXISTS platform_report_row, platform_report, agency_rollup,
                             response_time_rollup, outcome_rollup;
        """
    )
