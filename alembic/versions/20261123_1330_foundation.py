"""Foundation: organisations, API clients and the audit log's first shape.

Revision ID: 0001_foundation
Revises:
Create Date: 2026-11-23 13:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0001_foundation"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create organization, api_client and audit_entry."""
    op.create_table(
        "organization",
        sa.Column(
            "id",
            postgresql.UUID(as_uuid=True),
            server_default=sa.text("gen_random_uuid()"),
            nullable=False,
        ),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("country", sa.String(2), nullable=True),
        sa.Column("platform", sa.String(63), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint(
            "kind IN ('agency', 'platform', 'observer', 'operator')", name="kind_known"
        ),
        sa.CheckConstraint("(kind = 'agency') = (country IS NOT NULL)", name="country_iff_agency"),
        sa.CheckConstraint(
            "(kind = 'platform') = (platform IS NOT NULL)", name="platform_iff_platform"
        ),
        sa.CheckConstraint("country ~ '^[A-Z]{2}$'", name="country_alpha2"),
        sa.CheckConstraint("platform ~ '^[a-z0-9][a-z0-9-]{0,62}$'", name="platform_slug"),
        sa.PrimaryKeyConstraint("id", name="pk_organization"),
    )
    op.create_index("uq_organization_platform", "organization", ["platform"], unique=True)
    op.create_index("uq_organization_name", "organization", ["name"], unique=True)

    op.create_table(
        "api_client",
        sa.Column(
            "id",
            postgresql.UUID(as_uuid=True),
            server_default=sa.text("gen_random_uuid()"),
            nullable=False,
        ),
        sa.Column("organization_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("secret_hash", sa.Text(), nullable=False),
        sa.Column("scopes", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name="fk_api_client_organization_id_organization",
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_api_client"),
    )
    op.create_index("ix_api_client_organization_id", "api_client", ["organization_id"])

    op.create_table(
        "audit_entry",
        sa.Column("seq", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column(
            "at",
            sa.DateTime(timezone=True),
            server_default=sa.text("clock_timestamp()"),
            nullable=False,
        ),
        sa.Column("actor_client_id", postgresql.UUID(as_uuid=True), nullable=True),
        sa.Column("actor_org_id", postgresql.UUID(as_uuid=True), nullable=True),
        sa.Column("actor_label", sa.String(200), nullable=True),
        sa.Column("client_ip", sa.String(64), nullable=True),
        sa.Column("request_id", sa.String(128), nullable=True),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("object_type", sa.String(32), nullable=False),
        sa.Column("object_id", sa.Text(), nullable=False),
        sa.Column(
            "data", postgresql.JSONB(), server_default=sa.text("'{}'::jsonb"), nullable=False
        ),
        sa.Column(
            "txid",
            sa.BigInteger(),
            server_default=sa.text("pg_current_xact_id()::text::bigint"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("seq", name="pk_audit_entry"),
    )
    op.create_index("ix_audit_entry_object", "audit_entry", ["object_type", "object_id", "seq"])
    op.create_index("ix_audit_entry_actor_org_id", "audit_entry", ["actor_org_id", "seq"])
    # BRIN: entries arrive in time order, and a btree on a column every write appends to
    # costs each writer an index insert for little benefit to time-range scans.
    op.create_index("ix_audit_entry_at", "audit_entry", ["at"], postgresql_using="brin")


def downgrade() -> None:
    """Drop the foundation tables."""
    op.drop_table("audit_entry")
    op.drop_table("api_client")
    op.drop_table("organization")
