"""Rate limits: shared counters, token back-off, long-poll slots, per-organisation budgets.

The first three tables are UNLOGGED: they hold seconds-to-minutes of state that every
process rewrites constantly, and losing them in a crash only forgives some requests. That
saves the WAL of every counter update. `rate_limit_policy` is the operators' configuration
and is logged like every other table.

Revision ID: 0016_rate_limits
Revises: 0015_audit_verification
Create Date: 2026-12-18 09:00:00
"""

from collections.abc import Sequence

from app.migrations import execute_script

revision: str = "0016_rate_limits"
down_revision: str | None = "0015_audit_verification"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the rate-limit tables."""
    execute_script(
        """
        CREATE UNLOGGED TABLE rate_limit_window (
            bucket text NOT NULL,
            key text NOT NULL,
            window_start timestamptz NOT NULL,
            hits integer NOT NULL,
            CONSTRAINT pk_rate_limit_window PRIMARY KEY (bucket, key, window_start)
        );
        CREATE UNLOGGED TABLE rate_limit_backoff (
            key text NOT NULL,
            failures integer NOT NULL,
            last_failure_at timestamptz NOT NULL,
            blocked_until timestamptz,
            CONSTRAINT pk_rate_limit_backoff PRIMARY KEY (key)
        );
        CREATE UNLOGGED TABLE rate_limit_waiter (
            id uuid NOT NULL,
            client_id uuid NOT NULL,
            expires_at timestamptz NOT NULL,
            CONSTRAINT pk_rate_limit_waiter PRIMARY KEY (id)
        );
        CREATE INDEX ix_rate_limit_waiter_client_id ON rate_limit_waiter (client_id);
        CREATE TABLE rate_limit_policy (
            organization_id uuid NOT NULL,
            writes_per_minute integer,
            reads_per_minute integer,
            long_poll_waiters integer,
            updated_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT pk_rate_limit_policy PRIMARY KEY (organization_id),
            CONSTRAINT fk_rate_limit_policy_organization_id_organization
                FOREIGN KEY (organization_id) REFERENCES organization (id)
        );
        """
    )


def downgrade() -> None:
    """Drop the rate-limit tables."""
    execute_script(
        """
        DROP TABLE IF EXISTS rate_limit_policy;
        DROP TABLE IF EXISTS rate_limit_waiter;
        DROP TABLE IF EXISTS rate_limit_backoff;
        DROP TABLE IF EXISTS rate_limit_window;
        """
    )
