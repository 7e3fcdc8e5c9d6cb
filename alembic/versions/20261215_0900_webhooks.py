"""Webhooks: one endpoint per organisation, and the outbox of deliveries to it.

`webhook_delivery` is the outbox. Its rows are written by a trigger on `feed_event`
(app/webhooks/sql/outbox.sql) in the transaction that writes the event, so a rolled-back
change is never announced and a committed one is never lost. Workers claim due rows with
`FOR UPDATE SKIP LOCKED` (app/webhooks/repository.py).

The signing secret is stored as it is: it must be read to sign, like any HMAC key.

Revision ID: 0010_webhooks
Revises: 0009_hold_governance
Create Date: 2026-12-15 09:00:00
"""

from collections.abc import Sequence

from app.migrations import execute_script

revision: str = "0010_webhooks"
down_revision: str | None = "0009_hold_governance"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the webhook and webhook_delivery tables."""
    execute_script(
        """
        CREATE TABLE webhook (
            org_id uuid NOT NULL,
            url text NOT NULL,
            secret text NOT NULL,
            previous_secret text,
            previous_secret_expires_at timestamptz,
            set_by_client_id uuid NOT NULL,
            status text NOT NULL DEFAULT 'active',
            disabled_reason text,
            disabled_at timestamptz,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT pk_webhook PRIMARY KEY (org_id),
            CONSTRAINT fk_webhook_org_id_organization FOREIGN KEY (org_id)
                REFERENCES organization (id),
            CONSTRAINT ck_webhook_status_known CHECK (status IN ('active', 'disabled'))
        );
        CREATE TABLE webhook_delivery (
            id bigint GENERATED ALWAYS AS IDENTITY,
            org_id uuid NOT NULL,
            event_id bigint NOT NULL,
            txid xid8 NOT NULL,
            subject_id uuid,
            status text NOT NULL DEFAULT 'pending',
            attempts integer NOT NULL DEFAULT 0,
            next_attempt_at timestamptz NOT NULL DEFAULT now(),
            last_attempt_at timestamptz,
            last_status_code integer,
            last_error text,
            payload text,
            created_at timestamptz NOT NULL DEFAULT now(),
            delivered_at timestamptz,
            CONSTRAINT pk_webhook_delivery PRIMARY KEY (id),
            CONSTRAINT fk_webhook_delivery_org_id_webhook FOREIGN KEY (org_id)
                REFERENCES webhook (org_id) ON DELETE CASCADE,
            CONSTRAINT ck_webhook_delivery_status_known
                CHECK (status IN ('pending', 'delivered', 'failed'))
        );
        CREATE UNIQUE INDEX uq_webhook_delivery_org_event
            ON webhook_delivery (org_id, event_id);
        CREATE INDEX ix_webhook_delivery_due
            ON webhook_delivery (next_attempt_at) WHERE status = 'pending';
        CREATE INDEX ix_webhook_delivery_subject_pending
            ON webhook_delivery (org_id, subject_id, txid, event_id) WHERE status = 'pending';
        """
    )


def downgrade() -> None:
    """Drop the outbox trigger and the tables; forget the applied digest so the next
    upgrade applies the definitions again."""
    execute_script(
        """
        DROP TRIGGER IF EXISTS feed_event_webhook_outbox ON feed_event;
        DROP FUNCTION IF EXISTS fb_webhook_outbox();
        DROP TABLE IF EXISTS webhook_delivery, webhook;
        DELETE FROM sql_definitions;
        """
    )
