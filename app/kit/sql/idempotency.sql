-- fb_idempotency_check: the Idempotency-Key lookup.
--
-- Called by fb_submit_flag_requests (the single-flag and group-commit paths) and by
-- app/kit/idempotency.py::check (every other route with an Idempotency-Key). In SQL so that
-- the submission hot path checks and stores the key in the statement that submits.
-- The lock is keyed by hashtextextended(..., 7243): 7243 is LockNamespace.IDEMPOTENCY in
-- app/kit/locks.py (tests/test_sql_definitions.py checks every key in these files).

-- Look up an idempotency key under a transaction-scoped advisory lock. Returns NULL when
-- the request should proceed, else the (status, body) to answer with: the stored
-- response, 422 for a different body, 409 while another request holds the key.
CREATE OR REPLACE FUNCTION fb_idempotency_check(p_client uuid, p_route text, p_key text,
                                                p_hash text)
RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_row idempotency_key;
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtextextended(p_client::text || ' ' || p_route
                                                       || ' ' || p_key, 7243)) THEN
        RETURN jsonb_build_object('status', 409, 'body', fb_problem(409, 'idempotency-in-flight',
            'Conflict', 'A request with this Idempotency-Key is still being processed'));
    END IF;
    SELECT * INTO v_row FROM idempotency_key
    WHERE client_id = p_client AND route = p_route AND key = p_key;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    IF v_row.request_hash <> p_hash THEN
        RETURN jsonb_build_object('status', 422, 'body', fb_problem(422, 'idempotency-mismatch',
            'Unprocessable Content',
            'This Idempotency-Key was used with a different request body',
            jsonb_build_object('errors', jsonb_build_array(jsonb_build_object(
                'field', 'Idempotency-Key',
                'message', 'already used with a different request body')))));
    END IF;
    RETURN jsonb_build_object('status', v_row.status_code, 'body', v_row.response,
                              'replayed', true);
END
$$;
