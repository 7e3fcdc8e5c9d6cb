-- fb_retention_purge: remove personal data that has been kept long enough.
--
-- Called by app/retention/repository.py::purge (the `flagbridge retention run` command and
-- the periodic job), in one transaction under AdvisoryLock.RETENTION. In SQL because it is
-- set-based: a year of closed flags is a handful of statements, not a loop in Python.
--
-- What goes, for flags closed or withdrawn before p_cutoff and holds ended before it:
--   * the flag's or hold's own account identifiers (account_ref), summary or reason,
--     evidence, outcome note and withdrawal reason, a contest's reason, evidence and
--     reconsidered outcome note; hold renewal reasons; the free text of
--     the flag's statements of reasons (provision and clause become '[removed]', the
--     explanation NULL: an explanation may name people, and a platform may misuse the
--     others; ground, automation and scope stay, as the statement rollup counts them);
--   * every key of the history and feed events of those flags and holds except the few
--     that never name anyone (fb_retention_kept_keys);
--   * stored webhook payloads of those flags and holds (a pending delivery rebuilds its
--     payload from the redacted rows);
--   * the account's canonical keys and legacy identifier columns, and the account conflicts
--     that name it, once no flag or hold still keeping its data points at the account (an
--     account shared with a live or recent flag keeps everything).
-- And, whatever their flag: feed events older than p_feed_cutoff (the feed's cursor
-- retention; events a pending webhook delivery still needs stay), their finished webhook
-- deliveries, and Idempotency-Keys older than p_cutoff (they store whole responses).
--
-- What stays: every column the statistics rollups count (status, timestamps, country,
-- agency, platform, kind, category, priority, outcome action), so the rollup trigger on
-- flag (app/stats/sql/rollups.sql) never fires and every figure stays exactly as it was;
-- and the audit log, which holds no personal data in the clear (free text only as
-- SHA-256, accounts only by internal id) and is never touched.
--
-- Returns the counts; redacted rows get redacted_at, so each is purged and counted once.

-- History and feed event keys that name no one; every other key of a purged flag's events
-- is dropped (a list of what may stay, so a key added later is removed by default).
CREATE OR REPLACE FUNCTION fb_retention_kept_keys() RETURNS text[]
LANGUAGE sql IMMUTABLE AS $$
    SELECT ARRAY['action', 'actioned_at', 'duplicate_of', 'flagged_by_country']
$$;

CREATE OR REPLACE FUNCTION fb_retention_redact_data(p_data jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(jsonb_object_agg(d.key, d.value), '{}'::jsonb)
    FROM jsonb_each(p_data) AS d
    WHERE d.key = ANY (fb_retention_kept_keys())
$$;

CREATE OR REPLACE FUNCTION fb_retention_purge(p_cutoff timestamptz, p_feed_cutoff timestamptz)
RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_removed CONSTANT text := '[removed]';
    v_no_account CONSTANT jsonb := '{"id": null, "handle": null, "url": null}';
    v_flags uuid[];
    v_holds uuid[];
    v_accounts uuid[];
    v_counts jsonb := '{}';
    n bigint;
BEGIN
    WITH purged AS (
        UPDATE flag SET account_ref = v_no_account, summary = v_removed, evidence = '[]',
                        outcome_note = NULL, withdraw_reason = NULL, redacted_at = now(),
                        -- A contest's free text and evidence; the round's outcomes stay.
                        contest_reason = NULL, reconsidered_note = NULL,
                        contest_evidence = CASE WHEN contested_at IS NULL THEN NULL
                                                ELSE '[]'::jsonb END
        WHERE redacted_at IS NULL
          AND ((status = 'closed' AND closed_at < p_cutoff)
               OR (status = 'withdrawn' AND withdrawn_at < p_cutoff))
        RETURNING id
    )
    SELECT coalesce(array_agg(id), '{}') INTO v_flags FROM purged;

    WITH purged AS (
        UPDATE hold SET account_ref = v_no_account, reason = v_removed, redacted_at = now()
        WHERE redacted_at IS NULL AND coalesce(released_at, expires_at) < p_cutoff
        RETURNING id
    )
    SELECT coalesce(array_agg(id), '{}') INTO v_holds FROM purged;
    UPDATE hold_renewal SET reason = NULL WHERE hold_id = ANY (v_holds) AND reason IS NOT NULL;

    UPDATE outcome_statement
    SET legal_provision = CASE WHEN legal_provision IS NOT NULL THEN v_removed END,
        terms_clause = CASE WHEN terms_clause IS NOT NULL THEN v_removed END,
        explanation = NULL, redacted_at = now()
    WHERE flag_id = ANY (v_flags) AND redacted_at IS NULL;
    GET DIAGNOSTICS n = ROW_COUNT;
    v_counts := v_counts || jsonb_build_object('statements_redacted', n);

    UPDATE flag_event SET data = fb_retention_redact_data(data)
    WHERE flag_id = ANY (v_flags) AND data <> fb_retention_redact_data(data);
    GET DIAGNOSTICS n = ROW_COUNT;
    v_counts := v_counts || jsonb_build_object('history_events_redacted', n);

    UPDATE feed_event SET data = fb_retention_redact_data(data)
    WHERE (flag_id = ANY (v_flags) OR hold_id = ANY (v_holds))
      AND data <> fb_retention_redact_data(data);
    GET DIAGNOSTICS n = ROW_COUNT;
    v_counts := v_counts || jsonb_build_object('feed_events_redacted', n);

    UPDATE webhook_delivery SET payload = NULL
    WHERE (subject_id = ANY (v_flags) OR subject_id = ANY (v_holds)) AND payload IS NOT NULL;
    GET DIAGNOSTICS n = ROW_COUNT;
    v_counts := v_counts || jsonb_build_object('webhook_payloads_removed', n);

    -- Accounts every one of whose flags and holds is redacted (this run or an earlier one).
    SELECT coalesce(array_agg(a.id), '{}') INTO v_accounts
    FROM account a
    WHERE a.id IN (SELECT account_id FROM flag WHERE id = ANY (v_flags)
                   UNION SELECT account_id FROM hold WHERE id = ANY (v_holds))
      AND NOT EXISTS (SELECT 1 FROM flag f WHERE f.account_id = a.id AND f.redacted_at IS NULL)
      AND NOT EXISTS (SELECT 1 FROM hold h WHERE h.account_id = a.id AND h.redacted_at IS NULL);
    DELETE FROM account_key WHERE account_id = ANY (v_accounts);
    GET DIAGNOSTICS n = ROW_COUNT;
    v_counts := v_counts || jsonb_build_object('account_keys_deleted', n);
    UPDATE account SET external_id = NULL, handle = NULL, url = NULL
    WHERE id = ANY (v_accounts);
    DELETE FROM account_conflict WHERE account_ids && v_accounts;
    GET DIAGNOSTICS n = ROW_COUNT;
    v_counts := v_counts || jsonb_build_object('account_conflicts_deleted', n);

    WITH gone AS (
        DELETE FROM feed_event e
        WHERE e.occurred_at < p_feed_cutoff
          AND NOT EXISTS (SELECT 1 FROM webhook_delivery d
                          WHERE d.event_id = e.id AND d.status = 'pending')
        RETURNING e.id
    ), deliveries AS (
        DELETE FROM webhook_delivery d USING gone WHERE d.event_id = gone.id
        RETURNING d.id
    )
    SELECT (SELECT count(*) FROM gone) INTO n;
    v_counts := v_counts || jsonb_build_object('feed_events_deleted', n);

    DELETE FROM idempotency_key WHERE created_at < p_cutoff;
    GET DIAGNOSTICS n = ROW_COUNT;
    v_counts := v_counts || jsonb_build_object('idempotency_keys_deleted', n);

    RETURN v_counts || jsonb_build_object(
        'flags_redacted', cardinality(v_flags),
        'holds_redacted', cardinality(v_holds),
        'accounts_forgotten', cardinality(v_accounts));
END
$$;
