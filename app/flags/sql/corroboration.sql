-- fb_corroborations, fb_emit_corroborations: other agencies flagging the same account.
--
-- fb_corroborations counts them for a flag's JSON (fb_flag_json), fb_corroborations_of
-- for a set of flags (fb_insert_flags, a submission's answers).
-- fb_emit_corroborations tells the platform, when a flag reaches it, which of its other
-- live flags on the account are now corroborated: fb_corroboration_events is used by
-- fb_insert_flags (a flag that opens at submission, single or batch) and, through
-- fb_emit_corroborations, by app/flags/service.py::release_held_flag (a held flag that
-- opens when its hold ends), so every path emits exactly the same events. In SQL because
-- submission runs inside one statement, and because the rule is a set (one INSERT ...
-- SELECT), not a loop. "Live" here is app/flags/state.py::LIVE (tests/flags compare).

-- How many agencies and countries have a live flag on the account that the platform can
-- see (held flags are invisible to it), counting the given flag itself; for a set of flags
-- at once (fb_insert_flags renders a batch with one such query).
CREATE OR REPLACE FUNCTION fb_corroborations_of(p_flags flag[])
RETURNS TABLE (id uuid, corroborations jsonb)
LANGUAGE sql STABLE AS $$
    SELECT p.id, jsonb_build_object('agencies', count(DISTINCT f.agency_org_id),
                                    'countries', count(DISTINCT f.country))
    FROM unnest(p_flags) AS p
    LEFT JOIN flag f ON f.account_id = p.account_id
         AND f.status NOT IN ('closed', 'withdrawn')
         AND (f.status <> 'held' OR f.id = p.id)
    GROUP BY p.id
$$;

-- The same for one flag (fb_flag_json, every read of a flag).
CREATE OR REPLACE FUNCTION fb_corroborations(p_flag flag) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT c.corroborations FROM fb_corroborations_of(ARRAY[p_flag]) AS c
$$;

-- The flag.corroborated feed events a flag causes when it reaches the platform: one for the
-- platform for each other agency's live flag on the account that the platform can see
-- (held flags are invisible to it), in the order of those flags' ids. fb_insert_flags
-- (submit.sql) writes them with a submission's other events; fb_emit_corroborations below.
CREATE OR REPLACE FUNCTION fb_corroboration_events(p_flag flag)
RETURNS TABLE (recipient_org_id uuid, type text, flag_id uuid)
LANGUAGE sql STABLE AS $$
    SELECT p_flag.platform_org_id, 'flag.corroborated', f.id
    FROM flag f
    WHERE f.account_id = p_flag.account_id AND f.id <> p_flag.id
      AND f.agency_org_id <> p_flag.agency_org_id
      AND f.status IN ('open', 'acknowledged', 'info_requested', 'reconsideration')
    ORDER BY f.id
$$;

-- Queue the flag.corroborated feed events of a flag that opens after its hold ends.
CREATE OR REPLACE FUNCTION fb_emit_corroborations(p_flag flag) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO feed_event (recipient_org_id, type, flag_id)
    SELECT e.recipient_org_id, e.type, e.flag_id FROM fb_corroboration_events(p_flag) AS e
$$;
