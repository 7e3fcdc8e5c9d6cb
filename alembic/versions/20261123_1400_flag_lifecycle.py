"""Flag lifecycle: accounts, flags, their history, the feed, holds, idempotency keys.

The submission path is one PL/pgSQL function (`fb_submit_flag`), so that a submission
(idempotency check, account resolution, duplicate check, hold check, deadline, insert,
history, feed events, audit entry, stored idempotent response) is one statement: one round
trip and one implicit transaction. Flags are rendered to JSON by one SQL function
(`fb_flag_json`) used by every read, so every route shows a flag the same way.

Revision ID: 0002_flag_lifecycle
Revises: 0001_foundation
Create Date: 2026-11-23 14:00:00
"""

from collections.abc import Sequence

from app.migrations import execute_script

revision: str = "0002_flag_lifecycle"
down_revision: str | None = "0001_foundation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = r"""
CREATE TABLE account (
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    platform text NOT NULL,
    external_id text,
    handle text,
    url text,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT pk_account PRIMARY KEY (id),
    CONSTRAINT ck_account_identified
        CHECK (external_id IS NOT NULL OR handle IS NOT NULL OR url IS NOT NULL)
);
CREATE UNIQUE INDEX uq_account_platform_external_id ON account (platform, external_id)
    WHERE external_id IS NOT NULL;
CREATE UNIQUE INDEX uq_account_platform_handle ON account (platform, handle)
    WHERE handle IS NOT NULL;
CREATE UNIQUE INDEX uq_account_platform_url ON account (platform, url)
    WHERE url IS NOT NULL;

CREATE TABLE deadline_policy (
    country text NOT NULL,          -- ISO alpha-2, or '*' for the default
    kind text NOT NULL,
    priority text NOT NULL,
    seconds integer NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT pk_deadline_policy PRIMARY KEY (country, kind, priority),
    CONSTRAINT ck_deadline_policy_kind CHECK (kind IN ('referral', 'removal_order')),
    CONSTRAINT ck_deadline_policy_priority CHECK (priority IN ('standard', 'urgent')),
    CONSTRAINT ck_deadline_policy_seconds CHECK (seconds BETWEEN 60 AND 31536000)
);
INSERT INTO deadline_policy (country, kind, priority, seconds) VALUES
    ('*', 'removal_order', 'standard', 3600),
    ('*', 'removal_order', 'urgent', 3600),
    ('*', 'referral', 'urgent', 14400),
    ('*', 'referral', 'standard', 86400);

CREATE TABLE flag (
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    agency_org_id uuid NOT NULL,
    submitted_by_client_id uuid NOT NULL,
    country text NOT NULL,
    platform text NOT NULL,
    platform_org_id uuid NOT NULL,
    account_id uuid NOT NULL,
    kind text NOT NULL,
    category text NOT NULL,
    priority text NOT NULL,
    legal_basis text NOT NULL,
    summary text NOT NULL,
    evidence jsonb NOT NULL,
    external_ref text,
    status text NOT NULL,
    submitted_at timestamptz NOT NULL DEFAULT now(),
    opened_at timestamptz,
    due_at timestamptz,
    delivered_at timestamptz,
    acknowledged_at timestamptz,
    info_requested_at timestamptz,
    closed_at timestamptz,
    withdrawn_at timestamptz,
    withdraw_reason text,
    outcome_action text,
    outcome_note text,
    actioned_at timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT pk_flag PRIMARY KEY (id),
    CONSTRAINT fk_flag_agency_org_id_organization FOREIGN KEY (agency_org_id)
        REFERENCES organization (id),
    CONSTRAINT fk_flag_platform_org_id_organization FOREIGN KEY (platform_org_id)
        REFERENCES organization (id),
    CONSTRAINT fk_flag_account_id_account FOREIGN KEY (account_id) REFERENCES account (id),
    CONSTRAINT ck_flag_kind CHECK (kind IN ('referral', 'removal_order')),
    CONSTRAINT ck_flag_priority CHECK (priority IN ('standard', 'urgent')),
    CONSTRAINT ck_flag_category CHECK (category IN ('recruitment', 'propaganda', 'incitement',
        'instruction', 'financing', 'threat', 'glorification', 'other')),
    CONSTRAINT ck_flag_status CHECK (status IN ('held', 'open', 'acknowledged',
        'info_requested', 'closed', 'withdrawn')),
    CONSTRAINT ck_flag_outcome CHECK (outcome_action IS NULL OR outcome_action IN (
        'account_suspended', 'content_removed', 'account_restricted', 'no_violation',
        'account_not_found', 'insufficient_information'))
);
-- One live flag per agency and account: the arbiter of the same-agency duplicate 409.
CREATE UNIQUE INDEX uq_flag_agency_account_live ON flag (agency_org_id, account_id)
    WHERE status NOT IN ('closed', 'withdrawn');
-- The agency's own list, newest first, and its filters.
CREATE INDEX ix_flag_agency_submitted ON flag (agency_org_id, submitted_at DESC, id DESC);
-- Corroboration counts and hold release look up live flags by account.
CREATE INDEX ix_flag_account_live ON flag (account_id) WHERE status NOT IN ('closed', 'withdrawn');

CREATE TABLE flag_event (
    id bigint GENERATED ALWAYS AS IDENTITY,
    flag_id uuid NOT NULL,
    type text NOT NULL,
    at timestamptz NOT NULL DEFAULT clock_timestamp(),
    actor_org_id uuid,
    actor_client_id uuid,
    data jsonb NOT NULL DEFAULT '{}'::jsonb,
    CONSTRAINT pk_flag_event PRIMARY KEY (id),
    CONSTRAINT fk_flag_event_flag_id_flag FOREIGN KEY (flag_id) REFERENCES flag (id)
);
CREATE INDEX ix_flag_event_flag_id ON flag_event (flag_id, id);

-- The feed (and, later, the webhook outbox). txid orders events by commit visibility;
-- see app/feeds/service.py for why (txid, id) and the snapshot's xmin make the cursor safe.
CREATE TABLE feed_event (
    id bigint GENERATED ALWAYS AS IDENTITY,
    txid xid8 NOT NULL DEFAULT pg_current_xact_id(),
    recipient_org_id uuid NOT NULL,
    type text NOT NULL,
    flag_id uuid,
    hold_id uuid,
    occurred_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    data jsonb NOT NULL DEFAULT '{}'::jsonb,
    CONSTRAINT pk_feed_event PRIMARY KEY (id)
);
CREATE INDEX ix_feed_event_recipient_cursor ON feed_event (recipient_org_id, txid, id);

CREATE TABLE hold (
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    agency_org_id uuid NOT NULL,
    created_by_client_id uuid NOT NULL,
    country text NOT NULL,
    platform text NOT NULL,
    account_id uuid NOT NULL,
    reason text NOT NULL,
    expires_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    released_at timestamptz,
    release_reason text,
    CONSTRAINT pk_hold PRIMARY KEY (id),
    CONSTRAINT fk_hold_agency_org_id_organization FOREIGN KEY (agency_org_id)
        REFERENCES organization (id),
    CONSTRAINT fk_hold_account_id_account FOREIGN KEY (account_id) REFERENCES account (id),
    CONSTRAINT ck_hold_release_reason CHECK (release_reason IS NULL
        OR release_reason IN ('released', 'expired'))
);
CREATE INDEX ix_hold_agency_created ON hold (agency_org_id, created_at DESC, id DESC);
CREATE INDEX ix_hold_account_active ON hold (account_id) WHERE released_at IS NULL;
CREATE INDEX ix_hold_expiry ON hold (expires_at) WHERE released_at IS NULL;
-- Held flags are few; the expiry sweep looks for any no hold covers any more.
CREATE INDEX ix_flag_held_account ON flag (account_id) WHERE status = 'held';

CREATE TABLE idempotency_key (
    client_id uuid NOT NULL,
    route text NOT NULL,
    key text NOT NULL,
    request_hash text NOT NULL,
    status_code integer NOT NULL,
    response jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT pk_idempotency_key PRIMARY KEY (client_id, route, key)
);
CREATE INDEX ix_idempotency_key_created_at ON idempotency_key USING brin (created_at);

CREATE TABLE org_feed_state (
    org_id uuid NOT NULL,
    last_polled_at timestamptz NOT NULL,
    CONSTRAINT pk_org_feed_state PRIMARY KEY (org_id)
);
"""

FUNCTIONS = r"""
CREATE FUNCTION fb_ts(t timestamptz) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
$$;

CREATE FUNCTION fb_problem(p_status int, p_slug text, p_title text, p_detail text,
                           p_extra jsonb DEFAULT '{}'::jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_build_object('type', 'urn:flagbridge:problem:' || p_slug, 'title', p_title,
                              'status', p_status, 'detail', p_detail) || p_extra
$$;

-- How many agencies and countries have a live flag on the account that the platform can
-- see (held flags are invisible to it), counting the given flag itself.
CREATE FUNCTION fb_corroborations(p_flag flag) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('agencies', count(DISTINCT f.agency_org_id),
                              'countries', count(DISTINCT f.country))
    FROM flag f
    WHERE f.account_id = p_flag.account_id
      AND f.status NOT IN ('closed', 'withdrawn')
      AND (f.status <> 'held' OR f.id = p_flag.id)
$$;

-- The one JSON shape of a flag. A pure expression, so PostgreSQL inlines it; callers
-- that already hold the account row and agency name (submission) pass them in, the others
-- use fb_flag_json below.
CREATE FUNCTION fb_flag_doc(p_flag flag, p_account account, p_agency_name text,
                            p_corroborations jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_build_object(
        'id', p_flag.id,
        'status', p_flag.status,
        'kind', p_flag.kind,
        'category', p_flag.category,
        'priority', p_flag.priority,
        'platform', p_flag.platform,
        'account', jsonb_build_object('id', p_account.external_id, 'handle', p_account.handle,
                                      'url', p_account.url),
        'country', p_flag.country,
        'agency', jsonb_build_object('id', p_flag.agency_org_id, 'name', p_agency_name),
        'legal_basis', p_flag.legal_basis,
        'summary', p_flag.summary,
        'evidence', p_flag.evidence,
        'external_ref', p_flag.external_ref,
        'submitted_at', fb_ts(p_flag.submitted_at),
        'due_at', fb_ts(p_flag.due_at),
        'delivered_at', fb_ts(p_flag.delivered_at),
        'acknowledged_at', fb_ts(p_flag.acknowledged_at),
        'closed_at', fb_ts(p_flag.closed_at),
        'withdrawn_at', fb_ts(p_flag.withdrawn_at),
        'withdraw_reason', p_flag.withdraw_reason,
        'outcome', CASE WHEN p_flag.outcome_action IS NULL THEN NULL ELSE jsonb_build_object(
            'action', p_flag.outcome_action, 'note', p_flag.outcome_note,
            'actioned_at', fb_ts(p_flag.actioned_at)) END,
        'corroborations', p_corroborations)
$$;

-- A flag as a platform sees it: it reached the platform when it opened, so that is its
-- submission time there (a held flag's real submission time would reveal the hold).
CREATE FUNCTION fb_flag_json_for_platform(p_flag flag) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
BEGIN
    p_flag.submitted_at := coalesce(p_flag.opened_at, p_flag.submitted_at);
    RETURN fb_flag_json(p_flag);
END
$$;

-- A stored flag as JSON, used by every read.
CREATE FUNCTION fb_flag_json(p_flag flag) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT fb_flag_doc(p_flag, a, o.name, fb_corroborations(p_flag))
    FROM account a, organization o
    WHERE a.id = p_flag.account_id AND o.id = p_flag.agency_org_id
$$;

-- The one JSON shape of a hold (only ever shown to the agency that holds it).
CREATE FUNCTION fb_hold_json(p_hold hold) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', p_hold.id,
        'status', CASE WHEN p_hold.released_at IS NOT NULL THEN p_hold.release_reason
                       WHEN p_hold.expires_at <= now() THEN 'expired'
                       ELSE 'active' END,
        'platform', p_hold.platform,
        'account', jsonb_build_object('id', a.external_id, 'handle', a.handle, 'url', a.url),
        'country', p_hold.country,
        'reason', p_hold.reason,
        'created_at', fb_ts(p_hold.created_at),
        'expires_at', fb_ts(p_hold.expires_at),
        'released_at', fb_ts(p_hold.released_at))
    FROM account a
    WHERE a.id = p_hold.account_id
$$;

-- Find or create the account a flag or hold is about. Lookup order: the platform's stable
-- id, then the normalised handle, then the normalised URL. Raises unique_violation when it
-- loses a race to create the same account; callers retry.
CREATE FUNCTION fb_resolve_account(p_platform text, p_account jsonb) RETURNS account
LANGUAGE plpgsql AS $$
DECLARE
    v_row account;
    v_ext text := p_account->>'id';
    v_handle text := p_account->>'handle';
    v_url text := p_account->>'url';
BEGIN
    IF v_ext IS NOT NULL THEN
        SELECT * INTO v_row FROM account WHERE platform = p_platform AND external_id = v_ext;
    END IF;
    IF v_row.id IS NULL AND v_handle IS NOT NULL THEN
        SELECT * INTO v_row FROM account WHERE platform = p_platform AND handle = v_handle;
    END IF;
    IF v_row.id IS NULL AND v_url IS NOT NULL THEN
        SELECT * INTO v_row FROM account WHERE platform = p_platform AND url = v_url;
    END IF;
    IF v_row.id IS NOT NULL THEN
        RETURN v_row;
    END IF;
    -- A plain insert (speculative ON CONFLICT insertion costs more on every call): if a
    -- concurrent transaction inserts the same account first, this raises unique_violation
    -- and the caller retries the whole statement, which then finds the committed row.
    INSERT INTO account (platform, external_id, handle, url)
    VALUES (p_platform, v_ext, v_handle, v_url)
    RETURNING * INTO v_row;
    RETURN v_row;
END
$$;

CREATE FUNCTION fb_due_at(p_country text, p_kind text, p_priority text, p_from timestamptz)
RETURNS timestamptz
LANGUAGE sql STABLE AS $$
    SELECT p_from + make_interval(secs => seconds)
    FROM deadline_policy
    WHERE kind = p_kind AND priority = p_priority AND country IN (p_country, '*')
    ORDER BY country = '*'
    LIMIT 1
$$;

-- Look up an idempotency key under a transaction-scoped advisory lock. Returns NULL when
-- the request should proceed, else the (status, body) to answer with: the stored
-- response, 422 for a different body, 409 while another request holds the key.
CREATE FUNCTION fb_idempotency_check(p_client uuid, p_route text, p_key text, p_hash text)
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

-- Submit one flag. p_flag is the validated, normalised request body. Returns
-- {"status": http status, "body": flag or problem}. Never raises for a client error.
CREATE FUNCTION fb_submit_flag(p_org uuid, p_client uuid, p_country text, p_flag jsonb,
                               p_request_id text, p_ip text)
RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    v_platform text := p_flag->>'platform';
    v_platform_org uuid;
    v_agency_name text;
    v_acct account;
    v_account uuid;
    v_seconds integer;
    v_existing uuid;
    v_now timestamptz := now();
    v_flag flag;
    v_held boolean;
    v_hold record;
    v_notify uuid[];
BEGIN
    SELECT (SELECT id FROM organization WHERE kind = 'platform' AND platform = v_platform),
           (SELECT name FROM organization WHERE id = p_org)
    INTO v_platform_org, v_agency_name;
    IF v_platform_org IS NULL THEN
        RETURN jsonb_build_object('status', 422, 'body', fb_problem(422, 'validation',
            'Unprocessable Content', 'Invalid input: platform',
            jsonb_build_object('errors', jsonb_build_array(jsonb_build_object(
                'field', 'platform', 'message', 'no platform is registered as ' || v_platform)))));
    END IF;

    v_acct := fb_resolve_account(v_platform, p_flag->'account');
    v_account := v_acct.id;

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

    IF NOT v_held THEN
        SELECT seconds INTO v_seconds FROM deadline_policy
        WHERE kind = p_flag->>'kind' AND priority = p_flag->>'priority'
          AND country IN (p_country, '*')
        ORDER BY country = '*'
        LIMIT 1;
    END IF;

    INSERT INTO flag (agency_org_id, submitted_by_client_id, country, platform,
                      platform_org_id, account_id, kind, category, priority, legal_basis,
                      summary, evidence, external_ref, status, submitted_at, opened_at, due_at)
    VALUES (p_org, p_client, p_country, v_platform, v_platform_org, v_account,
            p_flag->>'kind', p_flag->>'category', p_flag->>'priority', p_flag->>'legal_basis',
            p_flag->>'summary', p_flag->'evidence', p_flag->>'external_ref',
            CASE WHEN v_held THEN 'held' ELSE 'open' END, v_now,
            CASE WHEN v_held THEN NULL ELSE v_now END,
            v_now + make_interval(secs => v_seconds))
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
        -- Other agencies' visible live flags on the account are now corroborated.
        INSERT INTO feed_event (recipient_org_id, type, flag_id)
        SELECT v_platform_org, 'flag.corroborated', f.id
        FROM flag f
        WHERE f.account_id = v_account AND f.id <> v_flag.id AND f.agency_org_id <> p_org
          AND f.status IN ('open', 'acknowledged', 'info_requested');
    END IF;

    INSERT INTO audit_entry (actor_client_id, actor_org_id, client_ip, request_id, action,
                             object_type, object_id, data)
    VALUES (p_client, p_org, p_ip, p_request_id, 'flag.submitted', 'flag', v_flag.id::text,
                     jsonb_build_object(
                         'status', v_flag.status, 'platform', v_platform,
                         'account_id', v_account, 'kind', v_flag.kind,
                         'category', v_flag.category, 'priority', v_flag.priority,
                         'due_at', fb_ts(v_flag.due_at),
                         'external_ref', v_flag.external_ref,
                         'evidence_count', jsonb_array_length(v_flag.evidence),
                         -- Free text is referenced by hash so retention purges never touch
                         -- the audit log.
                         'summary_sha256',
                             encode(sha256(convert_to(v_flag.summary, 'UTF8')), 'hex'),
                         'legal_basis_sha256',
                             encode(sha256(convert_to(v_flag.legal_basis, 'UTF8')), 'hex')));

    RETURN jsonb_build_object('status', 201,
                              'body', fb_flag_doc(v_flag, v_acct, v_agency_name,
                                                  fb_corroborations(v_flag)),
                              'notify', to_jsonb(v_notify));
END
$$;

-- The single-flag route: idempotency around fb_submit_flag, one statement in all.
CREATE FUNCTION fb_submit_flag_request(p_org uuid, p_client uuid, p_country text, p_flag jsonb,
                                       p_idem_key text, p_route text, p_hash text,
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
    IF p_idem_key IS NOT NULL THEN
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
CREATE FUNCTION fb_submit_flag_requests(p_orgs uuid[], p_clients uuid[], p_countries text[],
                                        p_flags text[], p_keys text[], p_route text,
                                        p_hashes text[], p_request_ids text[], p_ips text[])
RETURNS TABLE (item integer, status integer, body text, replayed boolean, notify text,
               flag_id text)
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
        RETURN NEXT;
    END LOOP;
END
$$;

-- A batch: each item in its own subtransaction, so one failing item never fails the rest.
-- p_items is an array of {"index", "flag"}; returns [{"index", "status", "body"}].
CREATE FUNCTION fb_submit_flag_batch(p_org uuid, p_client uuid, p_country text, p_items jsonb,
                                     p_request_id text, p_ip text)
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
"""


def upgrade() -> None:
    """Create the lifecycle tables and the submission functions."""
    execute_script(TABLES)
    execute_script(FUNCTIONS)


def downgrade() -> None:
    """Drop the lifecycle functions and tables."""
    execute_script(
        """
        DROP FUNCTION IF EXISTS fb_submit_flag_batch(uuid, uuid, text, jsonb, text, text);
        DROP FUNCTION IF EXISTS fb_submit_flag_requests(uuid[], uuid[], text[], text[], text[],
                                                        text, text[], text[], text[]);
        DROP FUNCTION IF EXISTS fb_submit_flag_request(uuid, uuid, text, jsonb, text, text, text,
                                                       text, text);
        DROP FUNCTION IF EXISTS fb_submit_flag(uuid, uuid, text, jsonb, text, text);
        DROP FUNCTION IF EXISTS fb_idempotency_check(uuid, text, text, text);
        DROP FUNCTION IF EXISTS fb_due_at(text, text, text, timestamptz);
        DROP FUNCTION IF EXISTS fb_resolve_account(text, jsonb);
        DROP FUNCTION IF EXISTS fb_flag_json_for_platform(flag);
        DROP FUNCTION IF EXISTS fb_flag_json(flag);
        DROP FUNCTION IF EXISTS fb_flag_doc(flag, account, text, jsonb);
        DROP FUNCTION IF EXISTS fb_hold_json(hold);
        DROP FUNCTION IF EXISTS fb_corroborations(flag);
        DROP FUNCTION IF EXISTS fb_problem(int, text, text, text, jsonb);
        DROP FUNCTION IF EXISTS fb_ts(timestamptz);
        DROP TABLE IF EXISTS org_feed_state, idempotency_key, hold, feed_event, flag_event,
                             flag, deadline_policy, account;
        """
    )
