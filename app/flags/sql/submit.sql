-- The submission of flags: one flag (fb_submit_flag), a set of flags as if one by one
-- (fb_submit_flags), requests with their idempotency keys from one or more callers
-- (group commit, fb_submit_flag_requests) and a batch (fb_submit_flag_batch). Every new flag is written by fb_insert_flags.
--
-- Callers: app/flags/group_commit.py (the single-flag route, over the raw asyncpg pool),
-- app/flags/repository.py::submit_batch (POST /v1/flags/batch) and the demo seeder.
-- Why SQL: a submission (idempotency check, account resolution, duplicate check, hold
-- check, deadline, insert, history, feed events, audit entry, stored idempotent response)
-- is one statement: one round trip and one implicit transaction, and a group or a batch
-- is written as sets (one INSERT per table). This is the measured hot path (see
-- benchmarks/README.md): adding a statement here costs every submission.
-- The rules it uses have their own homes: fb_platform_org/fb_no_such_platform
-- (app/orgs/sql), fb_resolve_account and fb_new_accounts, fb_due_at,
-- fb_corroborations_of and fb_corroboration_events (app/flags/sql), fb_audit_digest
-- (app/audit/sql), fb_idempotency_check (app/kit/sql).

-- Write submitted flags whose accounts are decided: item k of the set is the k-th element
-- of every array (p_flags[k] is the validated body with its identity), and each item is
-- on a different account. Writes each flag, its history, its feed events (the other
-- side's, the holding agencies', corroborations) and its audit entry, one INSERT per table
-- for the whole set, in item order (the ids, so the feed's (txid, id) order, are those of
-- writing the items one by one). Returns each item's 201 body and the organisations to
-- notify. The only writer of a new flag: fb_submit_flag (one item) and
-- fb_submit_flag_batch (a batch's common case) call it.
CREATE OR REPLACE FUNCTION fb_insert_flags(p_orgs uuid[], p_clients uuid[], p_countries text[],
                                           p_flags jsonb[], p_platform_orgs uuid[],
                                           p_accounts uuid[], p_held boolean[],
                                           p_request_ids text[], p_ips text[])
RETURNS TABLE (k integer, body jsonb, notify jsonb)
LANGUAGE plpgsql
-- Generic plans: these statements take arrays, whose custom plans cost more to make on
-- every call than they save (measured: benchmarks/README.md, "Set-based submission").
SET plan_cache_mode = force_generic_plan
AS $$
#variable_conflict use_column
DECLARE
    v_now timestamptz := now();
    -- Ids chosen here, so that every statement below joins by position.
    v_ids uuid[] := ARRAY(SELECT gen_random_uuid() FROM unnest(p_orgs));
    v_notify jsonb;
BEGIN
    WITH item AS (
        SELECT * FROM unnest(p_orgs, p_clients, p_countries, p_flags, p_platform_orgs,
                             p_accounts, p_held) WITH ORDINALITY
                      AS i(org, client, country, flag, platform_org, account_id, held, k)
    ), due AS (
        -- One policy look-up per (country, kind, priority), not per flag.
        SELECT c.country, c.kind, c.priority,
               fb_due_at(c.country, c.kind, c.priority, v_now) AS due_at
        FROM (SELECT DISTINCT country, flag->>'kind' AS kind, flag->>'priority' AS priority
              FROM item WHERE NOT held) AS c
    )
    INSERT INTO flag (id, agency_org_id, submitted_by_client_id, country, platform,
                      platform_org_id, account_id, account_ref, kind, category, priority,
                      legal_basis, summary, evidence, external_ref, status, submitted_at,
                      opened_at, due_at)
    SELECT v_ids[i.k], i.org, i.client, i.country, i.flag->>'platform', i.platform_org,
           i.account_id, i.flag->'identity'->'ref', i.flag->>'kind', i.flag->>'category',
           i.flag->>'priority', i.flag->>'legal_basis', i.flag->>'summary', i.flag->'evidence',
           i.flag->>'external_ref',
           CASE WHEN i.held THEN 'held' ELSE 'open' END, v_now,
           CASE WHEN i.held THEN NULL ELSE v_now END, d.due_at
    FROM item i
    LEFT JOIN due d ON NOT i.held AND d.country IS NOT DISTINCT FROM i.country
         AND d.kind = i.flag->>'kind' AND d.priority = i.flag->>'priority'
    ORDER BY i.k;
    -- uq_flag_agency_account_live still guards a concurrent duplicate: it raises
    -- unique_violation and the retried statement answers 409 from the caller's check.

    -- No status in the data: a platform may read this history once a held flag opens, and
    -- must not learn that it was ever held.
    INSERT INTO flag_event (flag_id, type, actor_org_id, actor_client_id)
    SELECT f.id, e.type, f.agency_org_id, f.submitted_by_client_id
    FROM unnest(v_ids) WITH ORDINALITY AS u(id, k)
    JOIN flag f ON f.id = u.id
    CROSS JOIN LATERAL (VALUES (1, 'submitted'), (2, 'held')) AS e(n, type)
    WHERE e.n = 1 OR f.status = 'held'
    ORDER BY u.k, e.n;

    -- A held flag tells its agency, and each holding agency that someone (named only by
    -- country) flagged the account; an open one tells the platform, with corroborations.
    WITH event AS (
        SELECT u.k, e.n, e.after, e.recipient_org_id, e.type, e.flag_id, e.hold_id, e.data
        FROM unnest(v_ids) WITH ORDINALITY AS u(id, k)
        JOIN flag f ON f.id = u.id
        CROSS JOIN LATERAL (
            SELECT 1 AS n, NULL::uuid AS after, f.agency_org_id AS recipient_org_id,
                   'flag.held' AS type, f.id AS flag_id, NULL::uuid AS hold_id,
                   '{}'::jsonb AS data
            WHERE f.status = 'held'
            UNION ALL
            SELECT 2, h.id, h.agency_org_id, 'hold.conflict', NULL, h.id,
                   jsonb_build_object('flagged_by_country', f.country)
            FROM hold h
            WHERE f.status = 'held' AND h.account_id = f.account_id
              AND h.released_at IS NULL AND h.expires_at > clock_timestamp()
              AND h.agency_org_id <> f.agency_org_id
            UNION ALL
            SELECT 3, NULL, f.platform_org_id, 'flag.created', f.id, NULL, '{}'
            WHERE f.status = 'open'
            UNION ALL
            SELECT 4, c.flag_id, c.recipient_org_id, c.type, c.flag_id, NULL, '{}'
            FROM fb_corroboration_events(f) AS c
            WHERE f.status = 'open'
        ) AS e
    ), written AS (
        INSERT INTO feed_event (recipient_org_id, type, flag_id, hold_id, data)
        SELECT recipient_org_id, type, flag_id, hold_id, data FROM event
        ORDER BY k, n, after
    )
    SELECT jsonb_object_agg(r.k::text, r.notify) INTO v_notify
    FROM (SELECT event.k, jsonb_agg(DISTINCT event.recipient_org_id) AS notify
          FROM event GROUP BY event.k) AS r;

    INSERT INTO audit_entry (actor_client_id, actor_org_id, client_ip, request_id, action,
                             object_type, object_id, data)
    SELECT i.client, i.org, i.ip, i.request_id, 'flag.submitted', 'flag', f.id::text,
           jsonb_build_object('status', f.status, 'platform', f.platform,
                              'account_id', f.account_id, 'kind', f.kind,
                              'category', f.category, 'priority', f.priority,
                              'due_at', fb_ts(f.due_at), 'external_ref', f.external_ref,
                              'evidence_count', jsonb_array_length(f.evidence),
                              -- Free text only as its digest (app/audit/sql/record.sql).
                              'summary_sha256', fb_audit_digest(f.summary),
                              'legal_basis_sha256', fb_audit_digest(f.legal_basis))
    FROM unnest(v_ids, p_clients, p_orgs, p_request_ids, p_ips) WITH ORDINALITY
         AS i(id, client, org, request_id, ip, k)
    JOIN flag f ON f.id = i.id
    ORDER BY i.k;

    RETURN QUERY
    WITH written AS (
        SELECT u.k, f FROM unnest(v_ids) WITH ORDINALITY AS u(id, k) JOIN flag f USING (id)
    )
    SELECT w.k::integer, fb_flag_doc(w.f, o.name, c.corroborations), v_notify->(w.k::text)
    FROM written w
    JOIN fb_corroborations_of(ARRAY(SELECT f FROM written)) AS c ON c.id = (w.f).id
    JOIN organization o ON o.id = (w.f).agency_org_id
    ORDER BY w.k;
END
$$;

-- Submit one flag. p_flag is the validated, normalised request body. Returns
-- {"status": http status, "body": flag or problem}. Never raises for a client error.
-- Decides the account, hold and duplicate; fb_insert_flags writes.
CREATE OR REPLACE FUNCTION fb_submit_flag(p_org uuid, p_client uuid, p_country text,
                                          p_flag jsonb, p_request_id text, p_ip text)
RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_platform text := p_flag->>'platform';
    v_identity jsonb := p_flag->'identity';
    v_platform_org uuid;
    v_profile text;
    v_account uuid;
    v_conflict jsonb;
    v_existing uuid;
    v_held boolean;
    v_written record;
BEGIN
    SELECT fb_platform_org(v_platform), fb_platform_identity_profile(v_platform)
    INTO v_platform_org, v_profile;
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

    SELECT w.body, w.notify INTO v_written
    FROM fb_insert_flags(ARRAY[p_org], ARRAY[p_client], ARRAY[p_country], ARRAY[p_flag],
                         ARRAY[v_platform_org], ARRAY[v_account], ARRAY[v_held],
                         ARRAY[p_request_id], ARRAY[p_ip]) AS w;
    RETURN jsonb_build_object('status', 201, 'body', v_written.body,
                              'notify', v_written.notify);
END
$$;

-- One item of a batch on its own (fb_submit_flag) in a subtransaction, so that it fails
-- alone: a lost race (unique_violation) is retried, anything else is a 500 for this item.
CREATE OR REPLACE FUNCTION fb_submit_flag_alone(p_org uuid, p_client uuid, p_country text,
                                                p_flag jsonb, p_request_id text, p_ip text)
RETURNS jsonb
LANGUAGE plpgsql AS $$
BEGIN
    FOR attempt IN 1..3 LOOP
        BEGIN
            RETURN fb_submit_flag(p_org, p_client, p_country, p_flag, p_request_id, p_ip);
        EXCEPTION
            WHEN unique_violation THEN
                -- Lost a race to a concurrent submission; the retry sees its row.
                CONTINUE;
            WHEN OTHERS THEN
                RETURN jsonb_build_object('status', 500, 'body', fb_problem(500,
                    'internal', 'Internal Server Error', 'This item could not be stored'));
        END;
    END LOOP;
    RETURN jsonb_build_object('status', 409, 'body', fb_problem(409, 'conflict',
        'Conflict', 'This item kept conflicting with concurrent submissions'));
END
$$;

-- Submit a set of flags (item k is the k-th element of every array; p_flags[k] is the
-- validated body with its identity) as if one by one, in order: answers [{"status",
-- "body", "notify"}] in item order, and writes exactly what fb_submit_flag would, item after
-- item (tests/flags/test_batch_differential.py compares them).
--
-- The common case is set-based: an item is "common" when its platform is registered, its
-- keys were computed with the platform's current profile, and none of its keys is known
-- (no account has it) or shared with another item of the set. Such an item creates a new
-- account, so no hold, duplicate or corroboration can concern it, and nothing another item
-- does can change its answer. Runs of consecutive common items are written together
-- (fb_new_accounts, then fb_insert_flags: one INSERT per table per run); every other item
-- (a known account, a key repeated in the set, an unknown platform, a changed profile)
-- goes alone through fb_submit_flag, in its place, so ids and the feed's order are those
-- of one by one. A run that loses a race for a key (unique_violation) is undone and its
-- items go alone. p_isolate: each item alone in a subtransaction (fb_submit_flag_alone,
-- a batch whose items fail alone); otherwise an error fails the statement (group commit,
-- whose caller then submits the items one by one).
CREATE OR REPLACE FUNCTION fb_submit_flags(p_orgs uuid[], p_clients uuid[],
                                           p_countries text[], p_flags jsonb[],
                                           p_request_ids text[], p_ips text[],
                                           p_isolate boolean)
RETURNS jsonb[]
LANGUAGE plpgsql
-- Generic plans: these statements take arrays, whose custom plans cost more to make on
-- every call than they save (measured: benchmarks/README.md, "Set-based submission").
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    v_n integer := coalesce(array_length(p_flags, 1), 0);
    v_platform_org uuid[];
    v_common boolean[];
    v_from integer := 1;
    v_accounts uuid[];
    v_alone integer[];
    v_i integer;
    v_result jsonb;
    v_out jsonb[] := '{}';
BEGIN
    IF v_n < 2 THEN
        -- One item: the sorting costs more than it saves.
        v_common := array_fill(false, ARRAY[v_n]);
    ELSE
    WITH item AS (
        SELECT i.k, i.flag, i.flag->>'platform' AS platform
        FROM unnest(p_flags) WITH ORDINALITY AS i(flag, k)
    ), platform AS MATERIALIZED (
        SELECT p.platform, fb_platform_org(p.platform) AS org_id,
               fb_platform_identity_profile(p.platform) AS profile
        FROM (SELECT DISTINCT platform FROM item) AS p
    ), item_key AS (
        SELECT item.k, item.platform, key.value->>'key' AS key
        FROM item, jsonb_array_elements(item.flag->'identity'->'keys') AS key
    ), shared AS (
        SELECT k FROM item_key
        WHERE (platform, key) IN (SELECT platform, key FROM item_key
                                  GROUP BY platform, key HAVING count(*) > 1)
        UNION
        -- One index probe per key: LIMIT keeps the planner from turning this into a
        -- semi-join, which the generic plan (it guesses 100 keys an item) made a hash join
        -- over the whole of account_key, a cost that grew with every account ever flagged.
        SELECT ik.k FROM item_key ik,
             LATERAL (SELECT 1 FROM account_key ak
                      WHERE ak.platform = ik.platform AND ak.key = ik.key LIMIT 1) AS known
    )
    SELECT array_agg(p.org_id ORDER BY item.k),
           array_agg(p.org_id IS NOT NULL
                     AND p.profile IS NOT DISTINCT FROM item.flag->'identity'->>'profile'
                     AND coalesce(jsonb_array_length(item.flag->'identity'->'keys'), 0) > 0
                     AND item.k NOT IN (SELECT k FROM shared) ORDER BY item.k)
    INTO v_platform_org, v_common
    FROM item LEFT JOIN platform p USING (platform);
    END IF;

    FOR k IN 1 .. v_n + 1 LOOP
        CONTINUE WHEN k <= v_n AND v_common[k];
        v_alone := '{}';
        IF k > v_from THEN
            BEGIN
                v_accounts := fb_new_accounts(
                    ARRAY(SELECT f->>'platform' FROM unnest(p_flags[v_from:k - 1])
                          WITH ORDINALITY AS r(f, n) ORDER BY n),
                    ARRAY(SELECT f->'identity'->'keys' FROM unnest(p_flags[v_from:k - 1])
                          WITH ORDINALITY AS r(f, n) ORDER BY n));
                v_out := v_out || ARRAY(
                    SELECT jsonb_build_object('status', 201, 'body', w.body, 'notify', w.notify)
                    FROM fb_insert_flags(p_orgs[v_from:k - 1], p_clients[v_from:k - 1],
                                         p_countries[v_from:k - 1], p_flags[v_from:k - 1],
                                         v_platform_org[v_from:k - 1], v_accounts,
                                         array_fill(false, ARRAY[k - v_from]),
                                         p_request_ids[v_from:k - 1],
                                         p_ips[v_from:k - 1]) AS w
                    ORDER BY w.k);
            EXCEPTION WHEN unique_violation THEN
                -- Another transaction bound one of the keys meanwhile: one by one instead.
                v_alone := ARRAY(SELECT generate_series(v_from, k - 1));
            END;
        END IF;
        IF k <= v_n THEN
            v_alone := v_alone || k;
        END IF;
        FOREACH v_i IN ARRAY v_alone LOOP
            IF p_isolate THEN
                v_result := fb_submit_flag_alone(p_orgs[v_i], p_clients[v_i], p_countries[v_i],
                                                 p_flags[v_i], p_request_ids[v_i], p_ips[v_i]);
            ELSE
                v_result := fb_submit_flag(p_orgs[v_i], p_clients[v_i], p_countries[v_i],
                                           p_flags[v_i], p_request_ids[v_i], p_ips[v_i]);
            END IF;
            v_out := v_out || v_result;
        END LOOP;
        v_from := k + 1;
    END LOOP;
    RETURN v_out;
END
$$;

-- A batch (POST /v1/flags/batch): p_items is an array of {"index", "flag"}; returns
-- [{"index", "status", "body", "notify"}] in the same order. Each item fails alone.
CREATE OR REPLACE FUNCTION fb_submit_flag_batch(p_org uuid, p_client uuid, p_country text,
                                                p_items jsonb, p_request_id text, p_ip text)
RETURNS jsonb
LANGUAGE sql AS $$
    WITH item AS (
        SELECT i.value->'index' AS idx, i.value->'flag' AS flag, i.k
        FROM jsonb_array_elements(p_items) WITH ORDINALITY AS i(value, k)
    ), answer AS (
        SELECT r.value, r.k
        FROM unnest(fb_submit_flags(
            array_fill(p_org, ARRAY[jsonb_array_length(p_items)]),
            array_fill(p_client, ARRAY[jsonb_array_length(p_items)]),
            array_fill(p_country, ARRAY[jsonb_array_length(p_items)]),
            ARRAY(SELECT flag FROM item ORDER BY k),
            array_fill(p_request_id, ARRAY[jsonb_array_length(p_items)]),
            array_fill(p_ip, ARRAY[jsonb_array_length(p_items)]),
            true)) WITH ORDINALITY AS r(value, k)
    )
    SELECT coalesce(jsonb_agg(jsonb_build_object('index', item.idx) || answer.value
                              ORDER BY item.k), '[]')
    FROM item JOIN answer USING (k)
$$;

-- Group commit: several single-flag requests (from different callers) in one statement and
-- one transaction, so a busy server pays one round trip and one commit for many of them.
-- Each keeps its own idempotency key, tenancy and answer: keys are checked first (a replay
-- answers at once), the rest are submitted together (fb_submit_flags) and their answers
-- stored under their keys. A group in which one client sends one key twice goes one item
-- at a time instead, so the second finds the first's stored answer. The single-flag route
-- is a group of one. If anything raises, the whole statement fails and the caller runs
-- the items one by one.
CREATE OR REPLACE FUNCTION fb_submit_flag_requests(p_orgs uuid[], p_clients uuid[],
                                                   p_countries text[], p_flags text[],
                                                   p_keys text[], p_route text,
                                                   p_hashes text[], p_request_ids text[],
                                                   p_ips text[])
RETURNS TABLE (item integer, status integer, body text, replayed boolean, notify text,
               flag_id text, retry_profile boolean)
LANGUAGE plpgsql AS $$
DECLARE
    v_n integer := coalesce(array_length(p_orgs, 1), 0);
    v_one_by_one boolean := EXISTS (
        SELECT 1 FROM unnest(p_clients, p_keys) AS c(client, key)
        WHERE key IS NOT NULL GROUP BY client, key HAVING count(*) > 1);
    v_answers jsonb[] := array_fill(NULL::jsonb, ARRAY[v_n]);
    v_part integer[];
    v_new integer[];
    v_submitted jsonb[];
    v_i integer;
    v jsonb;
BEGIN
    FOR part IN 1 .. CASE WHEN v_one_by_one THEN v_n ELSE least(v_n, 1) END LOOP
        v_part := CASE WHEN v_one_by_one THEN ARRAY[part]
                       ELSE ARRAY(SELECT generate_series(1, v_n)) END;
        v_new := '{}';
        FOREACH v_i IN ARRAY v_part LOOP
            IF p_keys[v_i] IS NOT NULL THEN
                v_answers[v_i] := fb_idempotency_check(p_clients[v_i], p_route, p_keys[v_i],
                                                       p_hashes[v_i]);
            END IF;
            IF v_answers[v_i] IS NULL THEN
                v_new := v_new || v_i;
            END IF;
        END LOOP;
        IF cardinality(v_new) = v_n THEN
            -- Every item is new (the common case): the arrays as they came, not rebuilt.
            v_submitted := fb_submit_flags(p_orgs, p_clients, p_countries, p_flags::jsonb[],
                                           p_request_ids, p_ips, false);
        ELSE
            v_submitted := fb_submit_flags(
                ARRAY(SELECT p_orgs[i] FROM unnest(v_new) AS i),
                ARRAY(SELECT p_clients[i] FROM unnest(v_new) AS i),
                ARRAY(SELECT p_countries[i] FROM unnest(v_new) AS i),
                ARRAY(SELECT p_flags[i]::jsonb FROM unnest(v_new) AS i),
                ARRAY(SELECT p_request_ids[i] FROM unnest(v_new) AS i),
                ARRAY(SELECT p_ips[i] FROM unnest(v_new) AS i),
                false);
        END IF;
        FOR j IN 1 .. cardinality(v_new) LOOP
            v_answers[v_new[j]] := v_submitted[j];
        END LOOP;
        -- A request to compute again (the profile changed) is not an answer to remember.
        INSERT INTO idempotency_key (client_id, route, key, request_hash, status_code,
                                     response)
        SELECT p_clients[i], p_route, p_keys[i], p_hashes[i], (a->>'status')::int, a->'body'
        FROM unnest(v_new, v_submitted) AS n(i, a)
        WHERE p_keys[i] IS NOT NULL AND NOT a ? 'retry_profile';
    END LOOP;
    FOR i IN 1 .. v_n LOOP
        v := v_answers[i];
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
