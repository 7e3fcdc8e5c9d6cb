-- fb_corroborations, fb_emit_corroborations: other agencies flagging the same account.
--
-- fb_corroborations counts them for a flag's JSON (fb_flag_json, fb_submit_flag).
-- fb_emit_corroborations tells the platform, when a flag reaches it, which of its other
-- live flags on the account are now corroborated: called by fb_submit_flag (a flag that
-- opens at submission) and app/flags/service.py::release_held_flag (a held flag that opens
-- when its hold ends), so both paths emit exactly the same events. In SQL because
-- submission runs inside one statement, and because the rule is a set (one INSERT ...
-- SELECT), not a loop. "Live" here is app/flags/state.py::LIVE (tests/flags compare).

-- How many agencies and countries have a live flag on the account that the platform can
-- see (held flags are invisible to it), counting the given flag itself.
CREATE OR REPLACE FUNCTION fb_corroborations(p_flag flag) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('agencies', count(DISTINCT f.agency_org_id),
                              'countries', count(DISTINCT f.country))
    FROM flag f
    WHERE f.account_id = p_flag.account_id
      AND f.status NOT IN ('closed', 'withdrawn')
      AND (f.status <> 'held' OR f.id = p_flag.id)
$$;

-- Queue a flag.corroborated feed event for the platform for each other agency's live flag
-- on the account that the platform can see (held flags are invisible to it).
CREATE OR REPLACE FUNCTION fb_emit_corroborations(p_flag flag) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO feed_event (recipient_org_id, type, flag_id)
    SELECT p_flag.platform_org_id, 'flag.corroborated', f.id
    FROM flag f
    WHERE f.account_id = p_flag.account_id AND f.id <> p_flag.id
      AND f.agency_org_id <> p_flag.agency_org_id
      AND f.status IN ('open', 'acknowledged', 'info_requested')
$$;
