-- The statement rollup: statements of reasons counted per UTC day, every dimension of the
-- outcome rollup, ground and territorial scope, kept exact by triggers on outcome_statement.
--
-- Callers: the outcome_statement_stats_* triggers below; fb_stats_fold's caller
-- (app/stats/repository.py::fold) and fb_stats_rebuild (app/stats/sql/rollups.sql), which
-- call the fold and the rebuild here; app/stats/repository.py reads the table when a
-- question groups by ground or scope. Striped and folded like outcome_rollup_day (see
-- rollups.sql and the 0007_stats migration): a writer adds rows of its own transaction's
-- stripe, so concurrent outcomes never wait for each other on a rollup row.
--
-- Each statement is counted once with scope '' (the statement as a whole: read when a
-- question does not group by scope), and once per entry of its territorial scope ('global',
-- or each country code: read when it does). A flag withheld in two countries so counts
-- once under each. The flag's dimensions are those it has when the statement is written;
-- a closed flag's never change. Advisory lock 7243004 is AdvisoryLock.STATS_FOLD.

-- Add p_delta for each of a set of statements, in one statement.
CREATE OR REPLACE FUNCTION fb_stats_statement_add(p_rows outcome_statement[], p_delta integer,
                                                  p_stripe bigint)
RETURNS void
LANGUAGE sql AS $$
    INSERT INTO statement_rollup_day AS r (day, country, agency_org_id, platform, kind,
                                           category, action, ground, scope, stripe, flags)
    SELECT fb_stats_day(s.created_at), f.country, f.agency_org_id, f.platform, f.kind,
           f.category, s.action, s.ground, sc.scope, p_stripe, p_delta * count(*)
    FROM unnest(p_rows) AS s
    JOIN flag f ON f.id = s.flag_id
    CROSS JOIN LATERAL (
        SELECT ''
        UNION ALL
        SELECT unnest(coalesce(s.territorial_scope, ARRAY['global']))
    ) AS sc (scope)
    GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9
    ON CONFLICT (day, country, agency_org_id, platform, kind, category, action, ground, scope,
                 stripe)
    DO UPDATE SET flags = r.flags + EXCLUDED.flags;
$$;

-- Statement-level, so a batch's statements are counted by one INSERT.
CREATE OR REPLACE FUNCTION fb_stats_statement_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM fb_stats_statement_add(array_agg(ROW(n.*)::outcome_statement), 1,
                                       fb_stats_stripe()) FROM new_rows n
        HAVING count(*) > 0;
    ELSE
        PERFORM fb_stats_statement_add(array_agg(ROW(o.*)::outcome_statement), -1,
                                       fb_stats_stripe()) FROM old_rows o
        HAVING count(*) > 0;
    END IF;
    RETURN NULL;
END
$$;

-- What a statement is counted by never changes (the retention purge redacts only its free
-- text), so the rollup needs no UPDATE trigger.
CREATE OR REPLACE FUNCTION fb_stats_statement_kept() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'a statement of reasons keeps its flag, decision, action, ground, scope '
                    'and time'
        USING ERRCODE = 'restrict_violation';
END
$$;

CREATE OR REPLACE TRIGGER outcome_statement_stats_insert AFTER INSERT ON outcome_statement
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION fb_stats_statement_changed();
CREATE OR REPLACE TRIGGER outcome_statement_stats_delete AFTER DELETE ON outcome_statement
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION fb_stats_statement_changed();
CREATE OR REPLACE TRIGGER outcome_statement_counted_unchanged BEFORE UPDATE ON outcome_statement
    FOR EACH ROW
    WHEN ((OLD.flag_id, OLD.decision, OLD.action, OLD.ground, OLD.territorial_scope,
           OLD.created_at) IS DISTINCT FROM
          (NEW.flag_id, NEW.decision, NEW.action, NEW.ground, NEW.territorial_scope,
           NEW.created_at))
    EXECUTE FUNCTION fb_stats_statement_kept();

-- Move pending rows of committed transactions (at most p_limit) into stripe 0, as
-- fb_stats_fold does for the outcome rollup; returns how many rows it moved.
CREATE OR REPLACE FUNCTION fb_stats_statement_fold(p_limit integer) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    v_moved integer;
BEGIN
    -- 7243004: AdvisoryLock.STATS_FOLD (app/kit/locks.py).
    IF NOT pg_try_advisory_xact_lock(7243004) THEN
        RETURN 0;
    END IF;
    WITH moved AS (
        DELETE FROM statement_rollup_day r
        WHERE r.ctid IN (SELECT ctid FROM statement_rollup_day WHERE stripe <> 0
                         LIMIT p_limit)
        RETURNING r.*
    ), folded AS (
        INSERT INTO statement_rollup_day AS r (day, country, agency_org_id, platform, kind,
                                               category, action, ground, scope, stripe, flags)
        SELECT day, country, agency_org_id, platform, kind, category, action, ground, scope, 0,
               sum(flags)
        FROM moved GROUP BY day, country, agency_org_id, platform, kind, category, action,
                            ground, scope
        ON CONFLICT (day, country, agency_org_id, platform, kind, category, action, ground,
                     scope, stripe)
        DO UPDATE SET flags = r.flags + EXCLUDED.flags
    )
    SELECT count(*) INTO v_moved FROM moved;
    RETURN v_moved;
END
$$;

-- Recompute the statement rollup from outcome_statement, all folded. fb_stats_rebuild
-- calls it under its lock.
CREATE OR REPLACE FUNCTION fb_stats_statement_rebuild() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(7243004);  -- no fold may run meanwhile
    LOCK TABLE outcome_statement IN SHARE MODE;
    DELETE FROM statement_rollup_day;
    PERFORM fb_stats_statement_add(array_agg(s), 1, 0) FROM outcome_statement s
    HAVING count(*) > 0;
END
$$;
