-- The statistics rollups: the trigger on flag that keeps them exact, the fold that moves
-- pending rows into the coarser tables, and the rebuild that recomputes them all.
--
-- Callers: the flag_stats_* triggers below (every INSERT, UPDATE or DELETE of a flag that
-- counts), app/stats/repository.py (fb_stats_fold, fb_stats_month), `flagbridge stats
-- rebuild` (fb_stats_rebuild). In SQL because a rollup must change in the same transaction
-- as the flag it counts, whoever writes the flag (the service, a batch, an importer, a
-- fix-up by hand), and because fold and rebuild are set-based statements over many rows.
-- See the 0007_stats migration's docstring for the design (stripes, pending rows, buckets).
-- Advisory lock 7243004 is AdvisoryLock.STATS_FOLD in app/kit/locks.py.

-- The histogram bucket of a duration: 0 is [0 s, 1 s); bucket b >= 1 is
-- [2^((b-1)/8) s, 2^(b/8) s). Mirrored by app/stats/percentiles.py.
CREATE OR REPLACE FUNCTION fb_stats_bucket(p_seconds double precision) RETURNS smallint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (CASE WHEN p_seconds IS NULL OR p_seconds < 1 THEN 0
                 ELSE least(1 + floor(8 * ln(p_seconds) / ln(2)), 255) END)::smallint
$$;

-- The UTC day of a time, and the first day of its month.
CREATE OR REPLACE FUNCTION fb_stats_day(p_at timestamptz) RETURNS date
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (p_at AT TIME ZONE 'UTC')::date
$$;
CREATE OR REPLACE FUNCTION fb_stats_month(p_day date) RETURNS date
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT p_day - extract(day FROM p_day)::integer + 1
$$;

-- Which stripe this transaction adds to: its own id, so no other transaction writes it.
CREATE OR REPLACE FUNCTION fb_stats_stripe() RETURNS bigint
LANGUAGE sql VOLATILE AS $$
    SELECT pg_current_xact_id()::text::bigint
$$;

-- What flags contribute to the rollups, added for p_new and taken away for p_old, as sets:
-- a closed flag its outcome (day of closed_at) and its time to outcome (a flag in
-- reconsideration keeps counting with its first outcome: app/flags/contest.py), an
-- acknowledged one its time to acknowledge (day of acknowledged_at), a withdrawn one its withdrawal (month of
-- withdrawn_at). A flag that contributes the same before and after nets to nothing, so
-- a changed row may be given on both sides whatever changed. One INSERT ... ON CONFLICT per
-- table for any number of flags (a batch of 1,000 outcomes), written as sums.
CREATE OR REPLACE FUNCTION fb_stats_apply(p_old flag[], p_new flag[], p_stripe bigint)
RETURNS void
LANGUAGE sql AS $$
    WITH c AS (
        SELECT -1 AS delta, o.* FROM unnest(p_old) AS o
        UNION ALL
        SELECT 1, n.* FROM unnest(p_new) AS n
    ), outcomes AS (
        INSERT INTO outcome_rollup_day AS r (day, country, agency_org_id, platform, kind,
                                             category, action, stripe, flags)
        SELECT fb_stats_day(closed_at), country, agency_org_id, platform, kind, category,
               outcome_action, p_stripe, sum(delta)
        FROM c WHERE status IN ('closed', 'reconsideration')
        GROUP BY 1, 2, 3, 4, 5, 6, 7
        HAVING sum(delta) <> 0
        ON CONFLICT (day, country, agency_org_id, platform, kind, category, action, stripe)
        DO UPDATE SET flags = r.flags + EXCLUDED.flags
    ), times AS (
        INSERT INTO response_time_rollup_day AS r (day, platform, priority, kind, measure,
                                                   bucket, stripe, flags)
        SELECT day, platform, priority, kind, measure, bucket, p_stripe, sum(delta)
        FROM (
            SELECT fb_stats_day(closed_at) AS day, platform, priority, kind,
                   'outcome' AS measure,
                   fb_stats_bucket(extract(epoch FROM closed_at - opened_at)::float8) AS bucket,
                   delta
            FROM c WHERE status IN ('closed', 'reconsideration') AND opened_at IS NOT NULL
            UNION ALL
            SELECT fb_stats_day(acknowledged_at), platform, priority, kind, 'acknowledge',
                   fb_stats_bucket(extract(epoch FROM acknowledged_at - opened_at)::float8),
                   delta
            FROM c WHERE acknowledged_at IS NOT NULL AND opened_at IS NOT NULL
        ) m
        GROUP BY 1, 2, 3, 4, 5, 6
        HAVING sum(delta) <> 0
        ON CONFLICT (day, platform, priority, kind, measure, bucket, stripe)
        DO UPDATE SET flags = r.flags + EXCLUDED.flags
    )
    INSERT INTO withdrawal_rollup AS r (agency_org_id, month, stripe, flags)
    SELECT agency_org_id, fb_stats_month(fb_stats_day(withdrawn_at)), p_stripe, sum(delta)
    FROM c WHERE status = 'withdrawn'
    GROUP BY 1, 2
    HAVING sum(delta) <> 0
    ON CONFLICT (agency_org_id, month, stripe) DO UPDATE SET flags = r.flags + EXCLUDED.flags
$$;

-- The rollup trigger: what the changed flags contributed is taken away and what they
-- contribute now is added (fb_stats_apply). Closed is terminal in the state machine but for
-- a contest, which changes no count, so in practice this is "+1 when a flag closes", but an importer, a data fix or a retention
-- purge stays exact too. Updates are handled per statement (a batch of answers is one
-- call over its transition tables); inserts and deletes of finished flags, rare, per row.
CREATE OR REPLACE FUNCTION fb_stats_flag_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_old flag[] := '{}';
    v_new flag[] := '{}';
BEGIN
    IF TG_LEVEL = 'STATEMENT' THEN
        -- Only rows that count somewhere (most updates, e.g. a delivery, have none), and
        -- not the flags whose every column a rollup reads is unchanged (a retention purge
        -- of closed flags): their two sides would only cancel out.
        WITH same AS (
            SELECT o.id FROM old_flags o JOIN new_flags n ON n.id = o.id
            WHERE (o.status IN ('closed', 'withdrawn', 'reconsideration')
                   OR o.acknowledged_at IS NOT NULL)
              AND (o.status, o.closed_at, o.withdrawn_at, o.opened_at, o.acknowledged_at,
                   o.country, o.agency_org_id, o.platform, o.kind, o.category, o.priority,
                   o.outcome_action)
                  IS NOT DISTINCT FROM
                  (n.status, n.closed_at, n.withdrawn_at, n.opened_at, n.acknowledged_at,
                   n.country, n.agency_org_id, n.platform, n.kind, n.category, n.priority,
                   n.outcome_action)
        )
        SELECT ARRAY(SELECT o::flag FROM old_flags o
                     WHERE (o.status IN ('closed', 'withdrawn', 'reconsideration')
                   OR o.acknowledged_at IS NOT NULL)
                       AND o.id NOT IN (SELECT id FROM same)),
               ARRAY(SELECT n::flag FROM new_flags n
                     WHERE (n.status IN ('closed', 'withdrawn', 'reconsideration')
                   OR n.acknowledged_at IS NOT NULL)
                       AND n.id NOT IN (SELECT id FROM same))
        INTO v_old, v_new;
    ELSIF TG_OP = 'INSERT' THEN
        v_new := ARRAY[NEW];
    ELSE
        v_old := ARRAY[OLD];
    END IF;
    IF cardinality(v_old) > 0 OR cardinality(v_new) > 0 THEN
        PERFORM fb_stats_apply(v_old, v_new, fb_stats_stripe());
    END IF;
    RETURN NULL;
END
$$;

-- A new flag is open or held, so this WHEN is false on the submission path and costs no
-- trigger call; it fires only for imports of flags that are already finished.
CREATE OR REPLACE TRIGGER flag_stats_insert AFTER INSERT ON flag FOR EACH ROW
    WHEN (NEW.status IN ('closed', 'withdrawn', 'reconsideration')
          OR NEW.acknowledged_at IS NOT NULL)
    EXECUTE FUNCTION fb_stats_flag_changed();
-- Per statement, over its transition tables: a statement that changes no counted flag
-- (a delivery, a deadline move) costs one call that finds nothing to add.
CREATE OR REPLACE TRIGGER flag_stats_update AFTER UPDATE ON flag
    REFERENCING OLD TABLE AS old_flags NEW TABLE AS new_flags
    FOR EACH STATEMENT EXECUTE FUNCTION fb_stats_flag_changed();
CREATE OR REPLACE TRIGGER flag_stats_delete AFTER DELETE ON flag FOR EACH ROW
    WHEN (OLD.status IN ('closed', 'withdrawn', 'reconsideration')
          OR OLD.acknowledged_at IS NOT NULL)
    EXECUTE FUNCTION fb_stats_flag_changed();

-- Move pending rows of committed transactions (at most p_limit per table) into stripe 0,
-- and add them to the month and narrow tables, in one statement per source table: readers
-- see each count exactly once, as a pending row before the fold commits and in the folded
-- tables after. Writers only ever touch rows of their own, uncommitted transaction, which
-- the fold cannot see, so the two never wait for each other. One folder at a time (an
-- advisory lock); the others return 0. Returns the most rows moved from one table (call
-- again while that is p_limit). A correction can leave a folded row at zero; readers skip
-- sums of zero, so such rows are harmless.
CREATE OR REPLACE FUNCTION fb_stats_fold(p_limit integer) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    v_outcomes integer;
    v_times integer;
    v_withdrawals integer;
BEGIN
    -- 7243004: AdvisoryLock.STATS_FOLD (app/kit/locks.py).
    IF NOT pg_try_advisory_xact_lock(7243004) THEN
        RETURN 0;
    END IF;
    WITH moved AS (
        DELETE FROM outcome_rollup_day r
        WHERE r.ctid IN (SELECT ctid FROM outcome_rollup_day WHERE stripe <> 0 LIMIT p_limit)
        RETURNING r.*
    ), days AS (
        INSERT INTO outcome_rollup_day AS r (day, country, agency_org_id, platform, kind,
                                             category, action, stripe, flags)
        SELECT day, country, agency_org_id, platform, kind, category, action, 0, sum(flags)
        FROM moved GROUP BY day, country, agency_org_id, platform, kind, category, action
        ON CONFLICT (day, country, agency_org_id, platform, kind, category, action, stripe)
        DO UPDATE SET flags = r.flags + EXCLUDED.flags
    ), months AS (
        INSERT INTO outcome_rollup_month AS r (month, country, agency_org_id, platform, kind,
                                               category, action, flags)
        SELECT fb_stats_month(day), country, agency_org_id, platform, kind, category, action,
               sum(flags)
        FROM moved GROUP BY 1, country, agency_org_id, platform, kind, category, action
        ON CONFLICT (month, country, agency_org_id, platform, kind, category, action)
        DO UPDATE SET flags = r.flags + EXCLUDED.flags
    ), narrow_days AS (
        INSERT INTO outcome_rollup_narrow_day AS r (day, country, agency_org_id, platform,
                                                    action, flags)
        SELECT day, country, agency_org_id, platform, action, sum(flags)
        FROM moved GROUP BY day, country, agency_org_id, platform, action
        ON CONFLICT (day, country, agency_org_id, platform, action)
        DO UPDATE SET flags = r.flags + EXCLUDED.flags
    ), narrow_months AS (
        INSERT INTO outcome_rollup_narrow_month AS r (month, country, agency_org_id, platform,
                                                      action, flags)
        SELECT fb_stats_month(day), country, agency_org_id, platform, action, sum(flags)
        FROM moved GROUP BY 1, country, agency_org_id, platform, action
        ON CONFLICT (month, country, agency_org_id, platform, action)
        DO UPDATE SET flags = r.flags + EXCLUDED.flags
    )
    SELECT count(*) INTO v_outcomes FROM moved;

    WITH moved AS (
        DELETE FROM response_time_rollup_day r
        WHERE r.ctid IN (SELECT ctid FROM response_time_rollup_day WHERE stripe <> 0
                         LIMIT p_limit)
        RETURNING r.*
    ), days AS (
        INSERT INTO response_time_rollup_day AS r (day, platform, priority, kind, measure,
                                                   bucket, stripe, flags)
        SELECT day, platform, priority, kind, measure, bucket, 0, sum(flags)
        FROM moved GROUP BY day, platform, priority, kind, measure, bucket
        ON CONFLICT (day, platform, priority, kind, measure, bucket, stripe)
        DO UPDATE SET flags = r.flags + EXCLUDED.flags
    ), months AS (
        INSERT INTO response_time_rollup_month AS r (month, platform, priority, kind, measure,
                                                     bucket, flags)
        SELECT fb_stats_month(day), platform, priority, kind, measure, bucket, sum(flags)
        FROM moved GROUP BY 1, platform, priority, kind, measure, bucket
        ON CONFLICT (month, platform, priority, kind, measure, bucket)
        DO UPDATE SET flags = r.flags + EXCLUDED.flags
    ), months_by AS (
        INSERT INTO response_time_rollup_month_by AS r (month, dimension, value, measure,
                                                        bucket, flags)
        SELECT fb_stats_month(m.day), d.dimension, d.value, m.measure, m.bucket, sum(m.flags)
        FROM moved m
        CROSS JOIN LATERAL (VALUES ('platform', m.platform), ('priority', m.priority),
                                   ('kind', m.kind), ('all', '')) AS d (dimension, value)
        GROUP BY 1, 2, 3, 4, 5
        ON CONFLICT (month, dimension, value, measure, bucket)
        DO UPDATE SET flags = r.flags + EXCLUDED.flags
    )
    SELECT count(*) INTO v_times FROM moved;

    WITH moved AS (
        DELETE FROM withdrawal_rollup r
        WHERE r.ctid IN (SELECT ctid FROM withdrawal_rollup WHERE stripe <> 0 LIMIT p_limit)
        RETURNING r.*
    ), folded AS (
        INSERT INTO withdrawal_rollup AS r (agency_org_id, month, stripe, flags)
        SELECT agency_org_id, month, 0, sum(flags) FROM moved GROUP BY agency_org_id, month
        ON CONFLICT (agency_org_id, month, stripe) DO UPDATE SET flags = r.flags + EXCLUDED.flags
    )
    SELECT count(*) INTO v_withdrawals FROM moved;
    RETURN greatest(v_outcomes, v_times, v_withdrawals);
END
$$;

-- Recompute every rollup from the flag table, all folded (repair, or after a bulk load
-- with the insert trigger disabled). Blocks writers to flag while it runs; readers go on.
CREATE OR REPLACE FUNCTION fb_stats_rebuild() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(7243004);  -- no fold may run meanwhile
    LOCK TABLE flag IN SHARE MODE;
    DELETE FROM outcome_rollup_day;
    DELETE FROM outcome_rollup_month;
    DELETE FROM outcome_rollup_narrow_day;
    DELETE FROM outcome_rollup_narrow_month;
    DELETE FROM response_time_rollup_day;
    DELETE FROM response_time_rollup_month;
    DELETE FROM response_time_rollup_month_by;
    DELETE FROM withdrawal_rollup;

    INSERT INTO outcome_rollup_day (day, country, agency_org_id, platform, kind, category,
                                    action, stripe, flags)
    SELECT fb_stats_day(closed_at), country, agency_org_id, platform, kind, category,
           outcome_action, 0, count(*)
    FROM flag WHERE status IN ('closed', 'reconsideration')
    GROUP BY 1, 2, 3, 4, 5, 6, 7;
    INSERT INTO outcome_rollup_month (month, country, agency_org_id, platform, kind, category,
                                      action, flags)
    SELECT fb_stats_month(day), country, agency_org_id, platform, kind, category, action,
           sum(flags)
    FROM outcome_rollup_day GROUP BY 1, 2, 3, 4, 5, 6, 7;
    INSERT INTO outcome_rollup_narrow_day (day, country, agency_org_id, platform, action, flags)
    SELECT day, country, agency_org_id, platform, action, sum(flags)
    FROM outcome_rollup_day GROUP BY 1, 2, 3, 4, 5;
    INSERT INTO outcome_rollup_narrow_month (month, country, agency_org_id, platform, action,
                                             flags)
    SELECT fb_stats_month(day), country, agency_org_id, platform, action, sum(flags)
    FROM outcome_rollup_narrow_day GROUP BY 1, 2, 3, 4, 5;

    INSERT INTO response_time_rollup_day (day, platform, priority, kind, measure, bucket,
                                          stripe, flags)
    SELECT fb_stats_day(m.at), m.platform, m.priority, m.kind, m.measure,
           fb_stats_bucket(m.seconds), 0, count(*)
    FROM (
        SELECT platform, priority, kind, 'outcome' AS measure, closed_at AS at,
               extract(epoch FROM closed_at - opened_at)::float8 AS seconds
        FROM flag WHERE status IN ('closed', 'reconsideration') AND opened_at IS NOT NULL
        UNION ALL
        SELECT platform, priority, kind, 'acknowledge', acknowledged_at,
               extract(epoch FROM acknowledged_at - opened_at)::float8
        FROM flag WHERE acknowledged_at IS NOT NULL AND opened_at IS NOT NULL
    ) m
    GROUP BY 1, 2, 3, 4, 5, 6;
    INSERT INTO response_time_rollup_month (month, platform, priority, kind, measure, bucket,
                                            flags)
    SELECT fb_stats_month(day), platform, priority, kind, measure, bucket, sum(flags)
    FROM response_time_rollup_day GROUP BY 1, 2, 3, 4, 5, 6;
    INSERT INTO response_time_rollup_month_by (month, dimension, value, measure, bucket, flags)
    SELECT m.month, d.dimension, d.value, m.measure, m.bucket, sum(m.flags)
    FROM response_time_rollup_month m
    CROSS JOIN LATERAL (VALUES ('platform', m.platform), ('priority', m.priority),
                               ('kind', m.kind), ('all', '')) AS d (dimension, value)
    GROUP BY 1, 2, 3, 4, 5;

    INSERT INTO withdrawal_rollup (agency_org_id, month, stripe, flags)
    SELECT agency_org_id, fb_stats_month(fb_stats_day(withdrawn_at)), 0, count(*)
    FROM flag WHERE status = 'withdrawn'
    GROUP BY 1, 2;

    PERFORM fb_stats_statement_rebuild();
    PERFORM fb_stats_contest_rebuild();
END
$$;
