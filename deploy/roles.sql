-- FlagBridge's two database roles (psql script).
--
--   owner  owns the schema: runs `flagbridge migrate` (and creates audit partitions).
--   app    runs `flagbridge serve`: reads and writes the service's tables, but may only
--          append to and read the audit tables (audit_entry, audit_seal, audit_checkpoint, audit_archive)
--          and only read alembic_version. UPDATE, DELETE and TRUNCATE on the audit tables
--          fail with "permission denied" before the append-only triggers are even reached.
--
-- Run it as a superuser (or the database owner with CREATEROLE), connected to FlagBridge's
-- database, before or after the first `flagbridge migrate`. Running it again is harmless.
--
--   psql "postgresql://postgres@db.internal/flagbridge" \
--        -v owner=flagbridge_owner -v app=flagbridge_app -f deploy/roles.sql
--
-- The role names default to flagbridge_owner and flagbridge_app. Roles that do not exist
-- are created with LOGIN and no password: give them one (`\password flagbridge_app`) or
-- whatever authentication your server uses. Then:
--
--   DATABASE_URL=postgresql://flagbridge_owner:...@db.internal/flagbridge flagbridge migrate
--   DATABASE_URL=postgresql://flagbridge_app:...@db.internal/flagbridge   flagbridge serve
--
-- `serve` checks the schema first: at head that needs no privilege; if a migration is
-- pending it stops and says to run `flagbridge migrate` as the owner.
--
-- Tables that later migrations create get the same grants (ALTER DEFAULT PRIVILEGES below),
-- and every `flagbridge migrate` takes UPDATE, DELETE and TRUNCATE on the audit tables and
-- their partitions back from every role but the owner (app/migrations.py), so a new
-- monthly partition of audit_entry is append-only for the service too. The service reaches
-- partitions through the partitioned table, whose privileges are the ones checked.

\set ON_ERROR_STOP on
\if :{?owner}
\else
    \set owner flagbridge_owner
\endif
\if :{?app}
\else
    \set app flagbridge_app
\endif

BEGIN;

-- The roles, unless they exist. The service's role must not own anything or be able to
-- create roles or databases.
SELECT format('CREATE ROLE %I LOGIN', :'owner')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'owner') \gexec
SELECT format('CREATE ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE', :'app')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'app') \gexec

SELECT format('GRANT CONNECT ON DATABASE %I TO %I, %I', current_database(), :'owner', :'app')
\gexec

-- Only the owner creates objects (before PostgreSQL 15 every role could, in public).
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE, CREATE ON SCHEMA public TO :"owner";
GRANT USAGE ON SCHEMA public TO :"app";

-- Tables and sequences that exist now...
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO :"app";
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO :"app";
-- ...and those the owner creates later (migrations, audit partitions).
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO :"app";
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA public
    GRANT USAGE, SELECT ON SEQUENCES TO :"app";
-- Functions: EXECUTE is PostgreSQL's default for everyone; they run with the caller's
-- privileges (none is SECURITY DEFINER), so the grants above bound what they can do.

-- The audit tables, and every partition of them: append and read only.
SELECT format('REVOKE UPDATE, DELETE, TRUNCATE ON %s FROM %I', rel, :'app')
FROM (
    SELECT to_regclass(name) AS rel
    FROM unnest(ARRAY['audit_entry', 'audit_seal', 'audit_checkpoint', 'audit_archive']) AS name
    UNION
    SELECT p.relid
    FROM unnest(ARRAY['audit_entry', 'audit_seal', 'audit_checkpoint', 'audit_archive']) AS name,
         pg_partition_tree(to_regclass(name)) AS p
) AS audit
WHERE rel IS NOT NULL \gexec

-- The schema version: the service reads it, only the owner changes it.
SELECT format('REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON alembic_version FROM %I', :'app')
WHERE to_regclass('alembic_version') IS NOT NULL \gexec

COMMIT;
