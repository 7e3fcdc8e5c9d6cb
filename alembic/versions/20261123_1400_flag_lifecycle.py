"""Flag lifecycle: accounts, flags, their history, the feed, holds, idempotency keys.

The submission path is one PL/pgSQL function (`fb_submit_flag`) and flags are rendered to
JSON by one SQL function (`fb_flag_json`); their living definitions are in
app/flags/sql/ (and the other `app/<domain>/sql/` files), applied after the migrations by
app/sql_definitions.py. This revision only creates the tables.

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


def upgrade() -> None:
    """Create the lifecycle tables."""
    execute_script(TABLES)


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
        DROP FUNCTION IF EXISTS fb_audit_record(uuid, uuid, text, text, text, text, text, text,
                                                jsonb, jsonb);
        DROP FUNCTION IF EXISTS fb_emit_corroborations(flag);
        DROP FUNCTION IF EXISTS fb_no_such_platform(text);
        DROP FUNCTION IF EXISTS fb_platform_org(text);
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
