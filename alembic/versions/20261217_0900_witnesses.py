"""Witnesses: members' keys and their co-signatures of checkpoints; the checkpoint scope.

`witness_key` keeps every key an organisation ever registered (a co-signature must stay
verifiable after the organisation moves to a new key) and `audit_cosignature` every
co-signature; both are append-only like the log. `checkpoint_id` has no foreign key on
purpose: checkpoints are append-only already, and a key would turn the append-only refusal
of `TRUNCATE audit_checkpoint` into a different error. Every existing client of an agency,
platform or observer gets the new `audit:checkpoints` scope, as new clients do by default,
so the members the README tells to keep checkpoints may read them.

Revision ID: 0012_witnesses
Revises: 0011_identity
Create Date: 2026-12-02 09:00:00
"""

from collections.abc import Sequence

from app.migrations import execute_script

revision: str = "0012_witnesses"
down_revision: str | None = "0011_identity"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the witness tables, append-only, and grant the checkpoint scope."""
    execute_script(
        """
        CREATE TABLE witness_key (
            id bigint GENERATED ALWAYS AS IDENTITY,
            organization_id uuid NOT NULL,
            kid text NOT NULL,
            jwk jsonb NOT NULL,
            registered_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT pk_witness_key PRIMARY KEY (id),
            CONSTRAINT fk_witness_key_organization_id_organization
                FOREIGN KEY (organization_id) REFERENCES organization (id),
            CONSTRAINT uq_witness_key_organization_id_kid UNIQUE (organization_id, kid)
        );
        CREATE TABLE audit_cosignature (
            id bigint GENERATED ALWAYS AS IDENTITY,
            checkpoint_id bigint NOT NULL,
            organization_id uuid NOT NULL,
            kid text NOT NULL,
            signature text NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT pk_audit_cosignature PRIMARY KEY (id),
            CONSTRAINT fk_audit_cosignature_organization_id_organization
                FOREIGN KEY (organization_id) REFERENCES organization (id),
            CONSTRAINT uq_audit_cosignature_checkpoint_id_organization_id_kid
                UNIQUE (checkpoint_id, organization_id, kid)
        );
        CREATE TRIGGER witness_key_no_update_delete
            BEFORE UPDATE OR DELETE ON witness_key
            FOR EACH ROW EXECUTE FUNCTION fb_audit_is_append_only();
        CREATE TRIGGER witness_key_no_truncate
            BEFORE TRUNCATE ON witness_key
            FOR EACH STATEMENT EXECUTE FUNCTION fb_audit_is_append_only();
        CREATE TRIGGER audit_cosignature_no_update_delete
            BEFORE UPDATE OR DELETE ON audit_cosignature
            FOR EACH ROW EXECUTE FUNCTION fb_audit_is_append_only();
        CREATE TRIGGER audit_cosignature_no_truncate
            BEFORE TRUNCATE ON audit_cosignature
            FOR EACH STATEMENT EXECUTE FUNCTION fb_audit_is_append_only();
        UPDATE api_client c SET scopes = c.scopes || ARRAY['audit:checkpoints']
        FROM organization o
        WHERE o.id = c.organization_id AND o.kind IN ('agency', 'platform', 'observer')
          AND NOT 'audit:checkpoints' = ANY (c.scopes);
        """
    )


def downgrade() -> None:
    """Drop the witness tables and the scope."""
    execute_script(
        """
        DROP TABLE IF EXISTS audit_cosignature;
        DROP TABLE IF EXISTS witness_key;
        UPDATE api_client SET scopes = array_remove(scopes, 'audit:checkpoints');
        """
    )
