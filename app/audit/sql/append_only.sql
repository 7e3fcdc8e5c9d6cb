-- fb_audit_is_append_only: the trigger function that keeps the audit tables append-only.
--
-- Fired by the row triggers (UPDATE, DELETE) and statement triggers (TRUNCATE) on
-- audit_entry and each of its partitions, audit_seal, audit_checkpoint and audit_archive.
-- The triggers are created by the migrations that create those tables (and by
-- fb_audit_ensure_partitions for new partitions). In SQL because it must hold for every
-- role, including the table owner, whatever client writes: only the database can refuse.
CREATE OR REPLACE FUNCTION fb_audit_is_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % is not allowed', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
