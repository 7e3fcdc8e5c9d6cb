"""Running Alembic migrations from code (the CLI, `serve`, the tests)."""

from __future__ import annotations

import re
from pathlib import Path

from alembic.config import Config
from alembic.script import ScriptDirectory

from alembic import command


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
    """Alembic autogenerate filter: everything but audit_entry's partitions."""
    return not (type_ == "table" and name is not None and _AUDIT_PARTITION.match(name))


def upgrade_to_head(migrations_dir: Path, database_url: str) -> None:
    """Apply every pending migration (blocking; Alembic's env.py runs its own event loop)."""
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
