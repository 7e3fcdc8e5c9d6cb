-- The contest rollup: contested and overturned flags (app/flags/contest.py) counted by the
-- day (UTC) and key of their FIRST outcome, the key of outcome_rollup_day, so a dashboard
-- reads "of the flags first closed with this outcome, how many were contested and how
-- many overturned" beside the first outcomes themselves.
--
-- Callers: the flag_contest_stats_* triggers below, app/stats/repository.py
-- (fb_stats_contest_fold with fb_stats_fold, the reads), fb_stats_rebuild (fb_stats_contest_rebuild).
-- In SQL for the reasons of rollups.sql: the count changes in the flag's transaction,
-- whoever writes the flag. Rows carry the writing transaction's stripe as there, so two
-- contests never wait for each other. Contests are rare: no month grain, readers sum the
-- day rows of their range. `overturned` is a column Python sets (contest.overturned), so
-- the rule is not restated here.
-- Advisory lock 7243004 is AdvisoryLock.STATS_FOLD in app/kit/locks.py.

-- Add p_delta (+1 or -1) for what a contested flag contributes: 'contested', and
-- 'overturned' once its reconsidered outcome overturned the first.
CREATE OR REPLACE FUNCTION fb_stats_contest_add(p flag, p_delta integer, p_stripe bigint)
RETURNS void
LANGUAGE sql AS $$
    INSERT INTO contest_rollup_day AS r (day, country, agency_org_id, platform, kind,
                                         category, action, measure, stripe, flags)
    SELECT fb_stats_day(p.closed_at), p.country, p.agency_org_id, p.platform, p.kind,
           p.category, p.outcome_action, m.measure, p_stripe, p_delta
    FROM (VALUES ('contested', true), ('overturned', coalesce(p.overturned, false)))
         AS m (measure, counts)
    WHERE m.counts
    ON CONFLICT (day, country, agency_org_id, platform, kind, category, action, measure,
                 stripe)
    DO UPDATE SET flags = r.flags + EXCLUDED.flags;
$$;

-- Takes the old row's contribution away and adds the new one's when they differ.
CREATE OR REPLACE FUNCTION fb_stats_contest_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_stripe bigint := fb_stats_stripe();
    v_old boolean := TG_OP <> 'INSERT' AND OLD.contested_at IS NOT NULL;
    v_new boolean := TG_OP <> 'DELETE' AND NEW.contested_at IS NOT NULL;
    v_same boolean := false;
BEGIN
    IF TG_OP = 'UPDATE' THEN
        v_same := v_old AND v_new
            AND (coalesce(OLD.overturned, false), OLD.closed_at, OLD.country,
                 OLD.agency_org_id, OLD.platform, OLD.kind, OLD.category, OLD.outcome_action)
                IS NOT DISTINCT FROM
                (coalesce(NEW.overturned, false), NEW.closed_at, NEW.country,
                 NEW.agency_org_id, NEW.platform, NEW.kind, NEW.category, NEW.outcome_action);
    END IF;
    IF v_old AND NOT v_same THEN
        PERFORM fb_stats_contest_add(OLD, -1, v_stripe);
    END IF;
    IF v_new AND NOT v_same THEN
        PERFORM fb_stats_contest_add(NEW, 1, v_stripe);
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE TRIGGER flag_contest_stats_insert AFTER INSERT ON flag FOR EACH ROW
    WHEN (NEW.contested_at IS NOT NULL)
    EXECUTE FUNCTION fb_stats_contest_changed();
-- Never fires on the submission or answer paths of uncontested flags.
CREATE OR REPLACE TRIGGER flag_contest_stats_update AFTER UPDATE ON flag FOR EACH ROW
    WHEN ((OLD.contested_at IS NOT NULL OR NEW.contested_at IS NOT NULL)
          AND (OLD.contested_at IS NULL, OLD.overturned, OLD.closed_at, OLD.country,
               OLD.agency_org_id, OLD.platform, OLD.kind, OLD.category, OLD.outcome_action)
              IS DISTINCT FROM
              (NEW.contested_at IS NULL, NEW.overturned, NEW.closed_at, NEW.country,
               NEW.agency_org_id, NEW.platform, NEW.kind, NEW.category, NEW.outcome_action))
    EXECUTE FUNCTION fb_stats_contest_changed();
CREATE OR REPLACE TRIGGER flag_contest_stats_delete AFTER DELETE ON flag FOR EACH ROW
    WHEN (OLD.contested_at IS NOT NULL)
    EXECUTE FUNCTION fb_stats_contest_changed();

-- Move pending rows of committed transactions (at most p_limit) into stripe 0, as
-- fb_stats_fold does for the other rollups; one folder at a time. Returns rows moved.
CREATE OR REPLACE FUNCTION fb_stats_contest_fold(p_limit integer) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    v_moved integer;
BEGIN
    -- 7243004: AdvisoryLock.STATS_FOLD (app/kit/locks.py).
    IF NOT pg_try_advisory_xact_lock(7243004) THEN
        RETURN 0;
    END IF;
    WITH moved AS (
        DELETE FROM contest_rollup_day r
        WHERE r.ctid IN (SELECT ctid FROM contest_rollup_day WHERE stripe <> 0 LIMIT p_limit)
        RETURNING r.*
    ), folded AS (
        INSERT INTO contest_rollup_day AS r (day, country, agency_org_id, platform, kind,
                                             category, action, measure, stripe, flags)
        SELECT day, country, agency_org_id, platform, kind, category, action, measure, 0,
               sum(flags)
        FROM moved GROUP BY day, country, agency_org_id, platform, kind, category, action,
                            measure
        ON CONFLICT (day, country, agency_org_id, platform, kind, category, action, measure,
                     stripe)
        DO UPDATE SET flags = r.flags + EXCLUDED.flags
    )
    SELECT count(*) INTO v_moved FROM moved;
    RETURN v_moved;
END
$$;

-- Recompute the contest rollup from the flag table, folded. fb_stats_rebuild calls it
-- holding its locks (no fold, no writer of flag).
CREATE OR REPLACE FUNCTION fb_stats_contest_rebuild() RETURNS void
LANGUAGE sql AS $$
    DELETE FROM contest_rollup_day;
    INSERT INTO contest_rollup_day (day, country, agency_org_id, platform, kind, category,
                                    action, measure, stripe, flags)
    SELECT fb_stats_day(f.closed_at), f.country, f.agency_org_id, f.platform, f.kind,
           f.category, f.outcome_action, m.measure, 0, count(*)
    FROM flag f
    CROSS JOIN LATERAL (VALUES ('contested', true),
                               ('overturned', coalesce(f.overturned, false)))
         AS m (measure, counts)
    WHERE f.contested_at IS NOT NULL AND m.counts
    GROUP BY 1, 2, 3, 4, 5, 6, 7, 8;
$$;
