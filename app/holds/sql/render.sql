-- fb_hold_json: the one JSON shape of a hold.
--
-- Called by app/holds/repository.py (render, list) and app/feeds/service.py (hold events).
-- In SQL so that a page of holds is rendered by the statement that selects it.

-- The one JSON shape of a hold (only ever shown to the agency that holds it).
CREATE OR REPLACE FUNCTION fb_hold_json(p_hold hold) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', p_hold.id,
        'status', CASE WHEN p_hold.released_at IS NOT NULL THEN p_hold.release_reason
                       WHEN p_hold.expires_at <= now() THEN 'expired'
                       ELSE 'active' END,
        'platform', p_hold.platform,
        -- The identifiers this agency sent, never the shared account's.
        'account', p_hold.account_ref,
        'country', p_hold.country,
        'reason', p_hold.reason,
        'created_at', fb_ts(p_hold.created_at),
        'expires_at', fb_ts(p_hold.expires_at),
        'released_at', fb_ts(p_hold.released_at))
$$;
