"""Every PostgreSQL advisory lock the service takes, in one registry.

Advisory locks are how work that must run in one process at a time (migrations, sealing the
audit chain, folding statistics) stays correct with several workers and hosts. A key used
twice would make two unrelated jobs skip or wait for each other, so every key is listed
here, and `.sql` files that take a lock use these numbers (tests/test_locks.py checks that
every literal key in app/**/sql/*.sql is one of them).
"""

from __future__ import annotations

from enum import IntEnum


class AdvisoryLock(IntEnum):
    """Transaction-scoped advisory lock keys (pg_advisory_xact_lock and friends)."""

    MIGRATIONS = 7243001
    """Alembic upgrades and applying the SQL definitions: one migrator at a time."""
    AUDIT_SEAL = 7243002
    """Sealing the audit chain and signing checkpoints."""
    DEMO_HISTORY = 7243003
    """Seeding the demo's two years of history."""
    STATS_FOLD = 7243004
    """Folding statistics rollups (and rebuilding them)."""
    RETENTION = 7243005
    """Removing personal data past the retention period: one run at a time."""
    TRANSPARENCY_PUBLISH = 7243013
    """Publishing transparency reports: one publisher at a time, so a revision is made once."""
    AUDIT_VERIFY = 7243014
    """Verifying the audit chain: one verification at a time across every process."""


class LockNamespace(IntEnum):
    """Seeds of `hashtextextended(text, seed)` for locks keyed by a value (one per key)."""

    PLATFORM_REPORT = 0
    """One platform's report submissions, keyed by its organisation id."""
    IDEMPOTENCY = 7243
    """One (client, route, Idempotency-Key) in flight at a time."""
    HOLD_LIMIT = 7244
    """One agency's hold creations, keyed by its organisation id (the active-holds limit)."""
    LONG_POLL_WAITERS = 7245
    """One client's long-poll admissions, keyed by its client id (the fleet-wide cap)."""
