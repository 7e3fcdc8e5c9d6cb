"""Audit log partitioned by month, archivable without breaking the chain.

audit_entry becomes a table partitioned by RANGE (at), one partition a month (UTC) plus a
default partition that catches entries for a month nobody created a partition for (so a
neglected maintenance job never makes a write fail). Existing entries are copied over with
their seq, and the identity continues after the highest one. Requires PostgreSQL 17 or
newer (identity columns on partitioned tables).

Archiving a month (`flagbridge audit archive`) writes its entries to a file, records the
archive in audit_archive and detaches the partition, in one transaction. The chain itself
lives in audit_seal, which is not partitioned: it keeps every link, so the chain still
verifies after a month is detached (and the archived entries can be checked against it from
the file). audit_seal therefore learns each entry's `at` (entry_at): verification uses it to
tell an archived entry from a deleted one.

Revision ID: 0006_audit_partitions
Revises: 0005_audit_checkpoints
Create Date: 2026-11-23 17:30:00
"""

from collections.abc import Sequence

from app.migrations import execute_script
from app.sql_definitions import apply_in_migration

revision: str = "0006_audit_partitions"
down_revision: str | None = "0005_audit_checkpoints"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = """
    seq bigint GENERATED ALWAYS AS IDENTITY,
    at timestamptz NOT NULL DEFAULT clock_timestamp(),
    actor_client_id uuid,
    actor_org_id uuid,
    actor_label varchar(200),
    client_ip varchar(64),
    request_id varchar(128),
    action varchar(64) NOT NULL,
    object_type varchar(32) NOT NULL,
    object_id text NOT NULL,
    data jsonb NOT NULL DEFAULT '{}'::jsonb,
    txid bigint NOT NULL DEFAULT pg_current_xact_id()::text::bigint
"""

INDEXES = """
    CREATE INDEX ix_audit_entry_object ON audit_entry (object_type, object_id, seq);
    CREATE INDEX ix_audit_entry_actor_org_id ON audit_entry (actor_org_id, seq);
    CREATE INDEX ix_audit_entry_at ON audit_entry USING brin (at);
    CREATE INDEX ix_audit_entry_actor_client_id ON audit_entry (actor_client_id, seq);
    CREATE INDEX ix_audit_entry_action ON audit_entry (action, seq);
    CREATE INDEX ix_audit_entry_txid_seq ON audit_entry (txid, seq);
"""

TRIGGERS = """
    CREATE TRIGGER audit_entry_no_update_delete
        BEFORE UPDATE OR DELETE ON audit_entry
        FOR EACH ROW EXECUTE FUNCTION fb_audit_is_append_only();
    CREATE TRIGGER audit_entry_no_truncate
        BEFORE TRUNCATE ON audit_entry
        FOR EACH STATEMENT EXECUTE FUNCTION fb_audit_is_append_only();
"""

# Rename the old table with everything named after it, so the new one can take the names.
SET_ASIDE = """
    DO $$
    DECLARE
        r record;
        old_seq text := pg_get_serial_sequence('audit_entry', 'seq');
    BEGIN
        ALTER TABLE audit_entry RENAME TO audit_entry_old;
        EXECUTE format('ALTER SEQUENCE %s RENAME TO audit_entry_old_seq_seq', old_seq);
        FOR r IN SELECT indexname FROM pg_indexes
                 WHERE schemaname = current_schema() AND tablename = 'audit_entry_old'
        LOOP
            EXECUTE format('ALTER INDEX %I RENAME TO %I', r.indexname,
                           replace(r.indexname, 'audit_entry', 'audit_entry_old'));
        END LOOP;
    END
    $$;
"""

# Continue the identity after the highest copied seq.
RESTART_IDENTITY = """
    DO $$
    DECLARE
        top bigint := (SELECT max(seq) FROM audit_entry);
    BEGIN
        IF top IS NOT NULL THEN
            EXECUTE format('ALTER TABLE audit_entry ALTER COLUMN seq RESTART WITH %s', top + 1);
        END IF;
    END
    $$;
"""


def upgrade() -> None:
    """Partition audit_entry by month; add entry_at to the chain and the archive register."""
    # The trigger function now names the table it refuses, and fb_audit_ensure_partitions
    # makes the monthly partitions (used below to partition the existing log).
    apply_in_migration("audit/sql/append_only.sql", "audit/sql/partitions.sql")
    execute_script(
        SET_ASIDE
        + f"""
        CREATE TABLE audit_entry ({COLUMNS},
            CONSTRAINT pk_audit_entry PRIMARY KEY (seq, at)
        ) PARTITION BY RANGE (at);
        {INDEXES}
        {TRIGGERS}

        SELECT fb_audit_ensure_partitions(
            LEAST(COALESCE((SELECT min(at) FROM audit_entry_old), now()), now())::date,
            (now() + interval '3 months')::date);
        INSERT INTO audit_entry OVERRIDING SYSTEM VALUE
            SELECT seq, at, actor_client_id, actor_org_id, actor_label, client_ip, request_id,
                   action, object_type, object_id, data, txid
            FROM audit_entry_old ORDER BY seq;
        {RESTART_IDENTITY}
        DROP TABLE audit_entry_old;

        -- The chain learns each entry's time, to tell an archived entry from a deleted one.
        ALTER TABLE audit_seal ADD COLUMN entry_at timestamptz;
        ALTER TABLE audit_seal DISABLE TRIGGER audit_seal_no_update_delete;
        UPDATE audit_seal s SET entry_at = COALESCE(
            (SELECT e.at FROM audit_entry e WHERE e.seq = s.entry_seq), s.sealed_at);
        ALTER TABLE audit_seal ENABLE TRIGGER audit_seal_no_update_delete;
        ALTER TABLE audit_seal ALTER COLUMN entry_at SET NOT NULL;

        -- Months written to a file and detached: verification accepts their entries as
        -- archived (not deleted) and checks that exactly entry_count of them are missing.
        -- Each record is signed with the service key (like a checkpoint), so a lowered
        -- count or a swapped file digest does not verify.
        CREATE TABLE audit_archive (
            id bigint GENERATED ALWAYS AS IDENTITY,
            partition_name text NOT NULL,
            range_start timestamptz NOT NULL,
            range_end timestamptz NOT NULL,
            entry_count bigint NOT NULL,
            first_position bigint,
            last_position bigint,
            file_sha256 text NOT NULL,
            archived_at timestamptz NOT NULL DEFAULT now(),
            archived_by text NOT NULL,
            kid text NOT NULL,
            signature text NOT NULL,
            CONSTRAINT pk_audit_archive PRIMARY KEY (id),
            CONSTRAINT uq_audit_archive_partition_name UNIQUE (partition_name)
        );
        CREATE TRIGGER audit_archive_no_update_delete
            BEFORE UPDATE OR DELETE ON audit_archive
            FOR EACH ROW EXECUTE FUNCTION fb_audit_is_append_only();
        CREATE TRIGGER audit_archive_no_truncate
            BEFORE TRUNCATE ON audit_archive
            FOR EACH STATEMENT EXECUTE FUNCTION fb_audit_is_append_only();
        """
    )


def downgrade() -> None:
    """Back to one table (detached, archived months are left where they are)."""
    execute_script(
        f"""
        DROP TABLE audit_archive;
        ALTER TABLE audit_seal DROP COLUMN entry_at;
        ALTER TABLE audit_entry RENAME TO audit_entry_parted;
        DO $$
        DECLARE r record;
        BEGIN
            EXECUTE format('ALTER SEQUENCE %s RENAME TO audit_entry_parted_seq_seq',
                           pg_get_serial_sequence('audit_entry_parted', 'seq'));
            FOR r IN SELECT indexname FROM pg_indexes
                     WHERE schemaname = current_schema() AND tablename = 'audit_entry_parted'
            LOOP
                EXECUTE format('ALTER INDEX %I RENAME TO %I', r.indexname,
                               replace(r.indexname, 'audit_entry', 'audit_entry_parted'));
            END LOOP;
        END
        $$;
        CREATE TABLE audit_entry ({COLUMNS},
            CONSTRAINT pk_audit_entry PRIMARY KEY (seq)
        );
        {INDEXES}
        {TRIGGERS}
        INSERT INTO audit_entry OVERRIDING SYSTEM VALUE
            SELECT seq, at, actor_client_id, actor_org_id, actor_label, client_ip, request_id,
                   action, object_type, object_id, data, txid
            FROM audit_entry_parted ORDER BY seq;
        {RESTART_IDENTITY}
        DROP TABLE audit_entry_parted;
        DROP FUNCTION fb_audit_ensure_partitions(date, date);
        """
    )
