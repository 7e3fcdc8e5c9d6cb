-- The submission of flags: one flag (fb_submit_flag), one request with its idempotency key
-- (fb_submit_flag_request), several requests from different callers (group commit,
-- fb_submit_flag_requests) and a batch (fb_submit_flag_batch).
--
-- Callers: app/flags/group_commit.py (the single-flag route, over the raw asyncpg pool),
-- app/flags/repository.py::submit_batch (POST /v1/flags/batch) and the demo seeder.
-- Why SQL: a submission (idempotency check, account resolution, duplicate check, hold
-- check, deadline, insert, history, feed events, audit entry, stored idempotent response)
-- is one statement: one round trip and one implicit transaction. This is the measured hot
-- path (see benchmarks/README.md): adding a statement here costs every submission.
-- The rules it uses have their own homes: fb_platform_org/fb_no_such_platform
-- (app/orgs/sql), fb_resolve_account, fb_due_at, fb_emit_corroborations (app/flags/sql),
-- fb_audit_record (app/audit/sql), fb_idempotency_check (app/kit/sql).

-- Submit one flag. p_flag is the validated, normalised request body. Returns
-- {"status": http status, "body": flag or problem}. Never raises for a client error.
CREATE OR REPLACE FUNCTION fb_submit_flag(p_org uuid, p_client uuid, p_country text,
                                          p_flag jsonb, p_request_id text, p_ip text)
RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_platform text := p_flag->>'platform';
    v_identity jsonb := p_flag->'identity';
    v_platform_org uuid;
    v_profile text;
    v_agency_name text;
    v_account uuid;
    v_conflict jsonb;
    v_existing uuid;
    v_now timestamptz := now();
    v_flag flag;
    v_held boolean;
    v_hold record;
    v_notify uuid[];
BEGIN
    SELECT fb_platform_org(v_platform), fb_platform_identity_profile(v_platform),
           (SELECT name FROM organization WHERE id = p_org)
    INTO v_platform_org, v_profile, v_agency_name;
    IF v_platform_org IS NULL THEN
        RETURN jsonb_build_object('status', 422, 'body', fb_no_such_platform(v_platform));
    END IF;
    -- The caller computed the keys with a profile it looked up earlier; if an operator has
    -- changed the platform's profile since, it must compute them again (never stored).
    IF v_profile IS DISTINCT FROM v_identity->>'profile' THEN
        RETURN jsonb_build_object('status', 503, 'retry_profile', true, 'body', fb_problem(
            503, 'unavailable', 'Service Unavailable',
            'The platform''s identity profile changed; send the request again'));
    END IF;

    SELECT r.account_id, r.conflict INTO v_account, v_conflict
    FROM fb_resolve_account(v_platform, v_identity->'keys') AS r;
    IF v_conflict IS NOT NULL THEN
        RETURN jsonb_build_object('status', 409, 'body', fb_account_conflict(v_conflict));
    END IF;

    -- FOR SHARE: a concurrent release or expiry (which updates the hold) waits for this
    -- transaction, and then finds the held flag it must open; if the release committed
    -- first, the hold no longer matches here and the flag is simply open.
    PERFORM 1 FROM hold
    WHERE account_id = v_account AND released_at IS NULL
      AND expires_at > clock_timestamp() AND agency_org_id <> p_org
    FOR SHARE;
    v_held := FOUND;

    SELECT id INTO v_existing FROM flag
    WHERE agency_org_id = p_org AND account_id = v_account
      AND status NOT IN ('closed', 'withdrawn');
    IF v_existing IS NOT NULL THEN
        RETURN jsonb_build_object('status', 409, 'body', fb_problem(409, 'duplicate-flag',
            'Conflict', 'Your agency already has an open flag on this account',
            jsonb_build_object('existing_flag_id', v_existing)));
    END IF;

    INSERT INTO flag (agency_org_id, submitted_by_client_id, country, platform,
                      platform_org_id, account_id, account_ref, kind, category, priority, legal_basis,
                      summary, evidence, external_ref, status, submitted_at, opened_at, due_at)
    VALUES (p_org, p_client, p_country, v_platform, v_platform_org, v_account,
            v_identity->'ref',
            p_flag->>'kind', p_flag->>'category', p_flag->>'priority', p_flag->>'legal_basis',
            p_flag->>'summary', p_flag->'evidence', p_flag->>'external_ref',
            CASE WHEN v_held THEN 'held' ELSE 'open' END, v_now,
            CASE WHEN v_held THEN NULL ELSE v_now END,
            CASE WHEN v_held THEN NULL
                 ELSE fb_due_at(p_country, p_flag->>'kind', p_flag->>'priority', v_now) END)
    -- uq_flag_agency_account_live still guards a concurrent duplicate: it raises
    -- unique_violation and the retried statement answers 409 from the check above.
    RETURNING * INTO v_flag;

    -- No status in the data: a platform may read this history once a held flag opens, and
    -- must not learn that it was ever held.
    INSERT INTO flag_event (flag_id, type, actor_org_id, actor_client_id)
    VALUES (v_flag.id, 'submitted', p_org, p_client);

    IF v_held THEN
        INSERT INTO flag_event (flag_id, type, actor_org_id, actor_client_id)
        VALUES (v_flag.id, 'held', p_org, p_client);
        INSERT INTO feed_event (recipient_org_id, type, flag_id)
        VALUES (p_org, 'flag.held', v_flag.id);
        v_notify := ARRAY[p_org];
        -- Tell each holding agency that someone (named only by country) flagged it.
        FOR v_hold IN
            SELECT h.id, h.agency_org_id FROM hold h
            WHERE h.account_id = v_account AND h.released_at IS NULL
              AND h.expires_at > clock_timestamp() AND h.agency_org_id <> p_org
        LOOP
            INSERT INTO feed_event (recipient_org_id, type, hold_id, data)
            VALUES (v_hold.agency_org_id, 'hold.conflict', v_hold.id,
                    jsonb_build_object('flagged_by_country', p_country));
            v_notify := v_notify || v_hold.agency_org_id;
        END LOOP;
    ELSE
        INSERT INTO feed_event (recipient_org_id, type, flag_id)
        VALUES (v_platform_org, 'flag.created', v_flag.id);
        v_notify := ARRAY[v_platform_org];
        PERFORM fb_emit_corroborations(v_flag);
    END IF;

    PERFORM fb_audit_record(p_client, p_org, NULL, p_ip, p_request_id, 'flag.submitted',
        'flag', v_flag.id::text,
        jsonb_build_object('status', v_flag.status, 'platform', v_platform,
                           'account_id', v_account, 'kind', v_flag.kind,
                           'category', v_flag.category, 'priority', v_flag.priority,
                           'due_at', fb_ts(v_flag.due_at),
                           'external_ref', v_flag.external_ref,
                           'evidence_count', jsonb_array_length(v_flag.evidence)),
        jsonb_build_object('summary', v_flag.summary, 'legal_basis', v_flag.legal_basis));

    RETURN jsonb_build_object('status', 201,
                              'body', fb_flag_doc(v_flag, v_agency_name,
                                                  fb_corroborations(v_flag)),
                              'notify', to_jsonb(v_notify));
END
$$;

-- The single-flag route: idempotency around fb_submit_flag, one statement in all.
CREATE OR REPLACE FUNCTION fb_submit_flag_request(p_org uuid, p_client uuid, p_country text,
                                                  p_flag jsonb, p_idem_key text,
                                                  p_route text, p_hash text,
                                                  p_request_id text, p_ip text)
RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_result jsonb;
BEGIN
    IF p_idem_key IS NOT NULL THEN
        v_result := fb_idempotency_check(p_client, p_route, p_idem_key, p_hash);
        IF v_result IS NOT NULL THEN
            RETURN v_result;
        END IF;
    END IF;
    v_result := fb_submit_flag(p_org, p_client, p_country, p_flag, p_request_id, p_ip);
    -- A request to compute again (the profile changed) is not an answer to remember.
    IF p_idem_key IS NOT NULL AND NOT v_result ? 'retry_profile' THEN
        INSERT INTO idempotency_key (client_id, route, key, request_hash, status_code, response)
        VALUES (p_client, p_route, p_idem_key, p_hash, (v_result->>'status')::int,
                v_result->'body');
    END IF;
    RETURN v_result;
END
$$;

-- Group commit: several single-flag requests (from different callers) in one statement and
-- one transaction, so a busy server pays one round trip and one commit for many of them.
-- Items run in order; each keeps its own idempotency key, tenancy and answer. If anything
-- raises, the whole statement fails and the caller runs the items one by one instead.
CREATE OR REPLACE FUNCTION fb_submit_flag_requests(p_orgs uuid[], p_clients uuid[],
                                                   p_countries text[], p_flags text[],
                                                   p_keys text[], p_route text,
                                                   p_hashes text[], p_request_ids text[],
                                                   p_ips text[])
RETURNS TABLE (item integer, status integer, body text, replayed boolean, notify text,
               flag_id text, retry_profile boolean)
LANGUAGE plpgsql AS $$
DECLARE
    v jsonb;
BEGIN
    FOR i IN 1 .. coalesce(array_length(p_orgs, 1), 0) LOOP
        v := fb_submit_flag_request(p_orgs[i], p_clients[i], p_countries[i], p_flags[i]::jsonb,
                                    p_keys[i], p_route, p_hashes[i], p_request_ids[i],
                                    p_ips[i]);
        item := i;
        status := (v->>'status')::integer;
        body := (v->'body')::text;
        replayed := coalesce((v->>'replayed')::boolean, false);
        notify := (SELECT string_agg(x, ',') FROM jsonb_array_elements_text(
                       coalesce(v->'notify', '[]'::jsonb)) AS x);
        flag_id := CASE WHEN status = 201 THEN v->'body'->>'id' END;
        retry_profile := v ? 'retry_profile';
        RETURN NEXT;
    END LOOP;
END
$$;

-- A batch: each item in its own subtransaction, so one failing item never fails the rest.
-- p_items is an array of {"index", "flag"}; returns [{"index", "status", "body"}].
CREATE OR REPLACE FUNCTION fb_submit_flag_batch(p_org uuid, p_client uuid, p_country text,
                                                p_items jsonb, p_request_id text, p_ip text)
RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_item jsonb;
    v_result jsonb;
    v_out jsonb := '[]'::jsonb;
BEGIN
    FOR v_item IN SELECT value FROM jsonb_array_elements(p_items) LOOP
        v_result := NULL;
        FOR attempt IN 1..3 LOOP
            BEGIN
                v_result := fb_submit_flag(p_org, p_client, p_country, v_item->'flag',
                                           p_request_id, p_ip);
                EXIT;
            EXCEPTION
                WHEN unique_violation THEN
                    -- Lost a race to a concurrent submission; the retry sees its row.
                    CONTINUE;
                WHEN OTHERS THEN
                    v_result := jsonb_build_object('status', 500, 'body', fb_problem(500,
                        'internal', 'Internal Server Error', 'This item could not be stored'));
                    EXIT;
            END;
        END LOOP;
        IF v_result IS NULL THEN
            v_result := jsonb_build_object('status', 409, 'body', fb_problem(409, 'conflict',
                'Conflict', 'This item kept conflicting with concurrent submissions'));
        END IF;
        v_out := v_out || jsonb_build_array(jsonb_build_object(
            'index', v_item->'index', 'status', v_result->'status', 'body', v_result->'body',
            'notify', v_result->'notify'));
    END LOOP;
    RETURN v_out;
END
$$;
