"""Running Alembic migrations from code (the CLI, `serve`, the tests)."""

from __future__ import annotations

import re
from pathlib import Path

from alembic.config import Config
from alembic.script import ScriptDirectory

from alembic import command

# Run after every migration, as the owner. deploy/roles.sql gives the service's role
# SELECT, INSERT, UPDATE and DELETE on every table the owner creates later (ALTER DEFAULT
# PRIVILEGES), which would include a new audit table or a new monthly partition of
# audit_entry; this takes UPDATE, DELETE and TRUNCATE on the append-only tables and all their
# partitions back from every role but the owner, and every write on alembic_version and
# sql_definitions (the service reads them to see that the schema is current). Grants the
# current role cannot revoke (it does not act for the owner) are skipped, so as the
# service's role it does nothing.
# Code that creates audit partitions outside a migration must run it as well.
RESTRICT_SERVICE_ROLE_SQL = """
DO $restrict$
DECLARE
    r record;
BEGIN
    FOR r IN
        WITH target AS (
            SELECT to_regclass(name) AS rel, ARRAY['UPDATE', 'DELETE', 'TRUNCATE'] AS privs
            FROM unnest(ARRAY['audit_entry', 'audit_seal', 'audit_checkpoint',
                              'audit_archive', 'audit_cosignature', 'witness_key']) AS name
            UNION ALL
            SELECT to_regclass(name), ARRAY['INSERT', 'UPDATE', 'DELETE', 'TRUNCATE']
            FROM unnest(ARRAY['alembic_version', 'sql_definitions']) AS name
        ), tree AS (
            SELECT t.rel, t.privs FROM target t WHERE t.rel IS NOT NULL
            UNION
            SELECT p.relid, t.privs FROM target t, pg_partition_tree(t.rel) p
        )
        SELECT c.oid::regclass AS rel, a.grantee,
               string_agg(DISTINCT a.privilege_type, ', ') AS privs
        FROM tree
        JOIN pg_class c ON c.oid = tree.rel
        CROSS JOIN LATERAL aclexplode(c.relacl) a
        WHERE a.privilege_type = ANY (tree.privs)
          AND a.grantee <> c.relowner
          AND pg_has_role(c.relowner, 'USAGE')
        GROUP BY c.oid, a.grantee
    LOOP
        EXECUTE format(
            'REVOKE %s ON %s FROM %s',
            r.privs,
            r.rel,
            CASE WHEN r.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(r.grantee)) END
        );
    END LOOP;
END
$restrict$
"""


class MigrationRefused(Exception):
    """The database role may not apply the pending migrations (it is not the owner)."""


def alembic_config(migrations_dir: Path, database_url: str) -> Config:
    """An Alembic config pointing at our migrations and the given database."""
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir))
    cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    cfg.attributes["database_url"] = database_url
    return cfg


# audit_entry's monthly partitions (and archived, detached months) are made at run time by
# fb_audit_ensure_partitions, not by the models: autogenerate must not propose dropping them.
_AUDIT_PARTITION = re.compile(r"^audit_entry_(y\d{4}m\d{2}|default)$")


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """Alembic autogenerate filter: everything but audit_entry's partitions and the
    migration machinery's own sql_definitions (like alembic_version, it has no model)."""
    if type_ == "table" and name == "sql_definitions":
        return False
    return not (type_ == "table" and name is not None and _AUDIT_PARTITION.match(name))


def upgrade_to_head(migrations_dir: Path, database_url: str) -> None:
    """Apply every pending migration (blocking; Alembic's env.py runs its own event loop).

    At head this changes nothing, so the service's restricted role may call it; a pending
    migration it may not apply raises MigrationRefused (see alembic/env.py).
    """
    command.upgrade(alembic_config(migrations_dir, database_url), "head")


def head_revision(migrations_dir: Path) -> str | None:
    """The newest revision in the migrations folder."""
    script = ScriptDirectory.from_config(alembic_config(migrations_dir, "postgresql://"))
    return script.get_current_head()


def execute_script(sql: str) -> None:
    """Run a multi-statement SQL script inside a migration.

    asyncpg prepares every statement it is given through SQLAlchemy, and a prepared
    statement holds one command; scripts with PL/pgSQL bodies therefore go through the
    driver's simple-query protocol instead, on the migration's own connection and
    transaction.
    """
    from sqlalchemy.util import await_only

    from alembic import op

    driver_connection = op.get_bind().connection.driver_connection
    assert driver_connection is not None
    await_only(driver_connection.execute(sql))
