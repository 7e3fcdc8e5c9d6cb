-- fb_resolve_account: find, create or extend the account a flag or hold is about, by its
-- canonical keys (app/identity/canonical.py computes them; this never parses identifiers).
--
-- Called by fb_submit_flag and by app/holds/repository.py (creating a hold); a batch
-- creates the accounts of its new, unshared keys with fb_new_accounts, the one place that
-- creates an account. In SQL so that
-- a submission resolves its account in the same statement that inserts the flag.

-- p_keys is [{"key": "handle:cell_x", "field": "account.url"}, ...] (one key per kind).
-- Answers the account id, or a conflict: the caller's fields whose keys name different
-- accounts, or whose id contradicts the id the account already has. A conflict changes
-- nothing and never names the other account's identifiers.
--
-- The account row is locked (FOR UPDATE; a new row is the inserter's until it commits),
-- so concurrent submissions on one account serialise: each then sees the other's flag for
-- corroboration counts and flag.corroborated events. Losing a race to bind the same key
-- raises unique_violation; callers retry the statement, which then finds the key.
CREATE OR REPLACE FUNCTION fb_resolve_account(p_platform text, p_keys jsonb,
                                              OUT account_id uuid, OUT conflict jsonb)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    v_keys text[] := ARRAY(SELECT k->>'key' FROM jsonb_array_elements(p_keys) AS k);
    v_found uuid[];
    v_id_key text;
BEGIN
    FOR attempt IN 1..3 LOOP
        SELECT array_agg(DISTINCT ak.account_id) INTO v_found
        FROM account_key ak WHERE ak.platform = p_platform AND ak.key = ANY(v_keys);
        IF v_found IS NULL THEN
            account_id := (fb_new_accounts(ARRAY[p_platform], ARRAY[p_keys]))[1];
            RETURN;
        END IF;
        IF cardinality(v_found) > 1 THEN
            conflict := (
                SELECT jsonb_agg(DISTINCT k->>'field') FROM jsonb_array_elements(p_keys) AS k
                WHERE EXISTS (SELECT 1 FROM account_key ak WHERE ak.platform = p_platform
                                AND ak.key = k->>'key'));
            RETURN;
        END IF;
        -- A concurrent merge may have moved the keys: then look again.
        PERFORM 1 FROM account a WHERE a.id = v_found[1] FOR UPDATE;
        CONTINUE WHEN NOT FOUND;
        IF EXISTS (SELECT 1 FROM account_key ak WHERE ak.platform = p_platform
                     AND ak.key = ANY(v_keys) AND ak.account_id <> v_found[1]) THEN
            CONTINUE;
        END IF;
        account_id := v_found[1];
        v_id_key := (SELECT k FROM unnest(v_keys) AS k WHERE k LIKE 'id:%');
        IF v_id_key IS NOT NULL AND EXISTS (
            SELECT 1 FROM account_key ak WHERE ak.account_id = v_found[1]
              AND ak.key LIKE 'id:%' AND ak.key <> v_id_key) THEN
            account_id := NULL;
            conflict := (SELECT jsonb_agg(k->>'field') FROM jsonb_array_elements(p_keys) AS k
                         WHERE k->>'key' = v_id_key);
            RETURN;
        END IF;
        INSERT INTO account_key (platform, key, account_id, bound_by)
        SELECT p_platform, k, v_found[1], 'agency' FROM unnest(v_keys) AS k
        WHERE NOT EXISTS (SELECT 1 FROM account_key ak
                          WHERE ak.platform = p_platform AND ak.key = k);
        RETURN;
    END LOOP;
    RAISE EXCEPTION 'account keys kept moving' USING ERRCODE = 'unique_violation';
END
$$;

-- The 409 problem for a conflict that fb_resolve_account found: it names the caller's own
-- fields only. NULL (no conflict) for NULL.
CREATE OR REPLACE FUNCTION fb_account_conflict(p_fields jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT fb_problem(409, 'account-conflict', 'Conflict',
        'These identifiers name different accounts, or contradict the id FlagBridge knows '
        || 'for this account; ask the platform, or send only the identifiers you are sure of',
        jsonb_build_object('errors', (
            SELECT jsonb_agg(jsonb_build_object('field', f, 'message',
                'conflicts with what FlagBridge knows of this account'))
            FROM jsonb_array_elements_text(p_fields) AS f)))
$$;

-- New accounts, one per element: p_platforms[i] with the keys p_keys[i] (as in
-- fb_resolve_account) bound to it by the agency. Answers their ids in the same order. The
-- one place an account is created: fb_resolve_account (one) and fb_submit_flag_batch (a
-- batch's accounts whose keys nobody knows) both call it. Another transaction binding one
-- of the keys first raises unique_violation; callers retry, and then find the key.
CREATE OR REPLACE FUNCTION fb_new_accounts(p_platforms text[], p_keys jsonb[])
RETURNS uuid[]
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    -- Ids chosen here, so that the keys join by position, not by RETURNING's order.
    v_ids uuid[] := ARRAY(SELECT gen_random_uuid() FROM unnest(p_platforms));
BEGIN
    INSERT INTO account (id, platform)
    SELECT a.id, a.platform FROM unnest(v_ids, p_platforms) AS a(id, platform);
    INSERT INTO account_key (platform, key, account_id, bound_by)
    SELECT a.platform, k->>'key', a.id, 'agency'
    FROM unnest(v_ids, p_platforms, p_keys) AS a(id, platform, keys),
         jsonb_array_elements(a.keys) AS k;
    RETURN v_ids;
END
$$;
