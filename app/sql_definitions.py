"""The living SQL definitions: the `.sql` files under `app/<domain>/sql/`, and applying them.

Rules that run inside PostgreSQL (a submission in one statement, the rollup triggers, the
audit log's guards) have their only home in a `.sql` file of their domain, written with
`CREATE OR REPLACE`, never in a migration. After Alembic reaches head, alembic/env.py
applies every file, in the order of FILES, whenever the digest stored in the
`sql_definitions` table differs from the files' digest; at head with the same digest it
writes nothing (so the service's restricted role can run that step at start).

A migration that needs a definition during its own run (a trigger on a new table, a
backfill) applies that file by name with `apply_in_migration`. It gets the file's current
text, so a file must still be creatable at every migration that applies it (the types its
signatures name must exist there). Bodies are not validated at creation time
(`check_function_bodies = off`, as pg_dump does), so a function may name tables or other
functions that a later file or migration creates.

To change a function: edit its file; the next `flagbridge migrate` applies it. To drop or
rename one (or change its signature), also write a migration that drops the old one.
tests/test_sql_definitions.py checks that the live database has exactly the files'
functions, with the files' bodies.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

APP = Path(__file__).resolve().parent

# Dependency order (helpers before their callers, trigger functions before the triggers
# that a file creates). With bodies unchecked only the triggers strictly need it, but a
# fixed order keeps every run the same.
FILES: tuple[str, ...] = (
    "kit/sql/clock.sql",
    "kit/sql/problem.sql",
    "kit/sql/idempotency.sql",
    "orgs/sql/platforms.sql",
    "audit/sql/append_only.sql",
    "audit/sql/partitions.sql",
    "audit/sql/record_many.sql",
    "audit/sql/record.sql",
    "flags/sql/accounts.sql",
    "flags/sql/deadline.sql",
    "flags/sql/corroboration.sql",
    "flags/sql/statement.sql",
    "flags/sql/render.sql",
    "holds/sql/render.sql",
    "flags/sql/submit.sql",
    "stats/sql/rollups.sql",
    "stats/sql/statement_rollups.sql",
    "stats/sql/contest_rollups.sql",
    "webhooks/sql/outbox.sql",
    "retention/sql/purge.sql",
)


def read(name: str) -> str:
    """The text of one definitions file (a name from FILES)."""
    if name not in FILES:
        raise ValueError(f"not a SQL definitions file: {name}")
    return (APP / name).read_text(encoding="utf-8")


@cache
def digest() -> str:
    """SHA-256 over every file's name and text, in order: what the database records."""
    h = hashlib.sha256()
    for name in FILES:
        h.update(name.encode() + b"\0" + read(name).encode() + b"\0")
    return h.hexdigest()


def script(names: Iterable[str] = FILES) -> str:
    """The files as one script, run with function bodies unchecked."""
    body = "\n".join(read(name) for name in names)
    return f"SET LOCAL check_function_bodies = off;\n{body}\nRESET check_function_bodies;\n"


def apply_on(connection: Any, names: Iterable[str] = FILES) -> None:
    """Apply files on a SQLAlchemy (sync facade over asyncpg) connection, in its transaction.

    A script with PL/pgSQL bodies holds many statements, which a prepared statement cannot;
    it goes through the driver's simple-query protocol on the same connection instead.
    """
    from sqlalchemy.util import await_only

    driver_connection = connection.connection.driver_connection
    assert driver_connection is not None
    await_only(driver_connection.execute(script(names)))


def apply_in_migration(*names: str) -> None:
    """Apply the named files from inside a migration (on its connection and transaction)."""
    from alembic import op

    apply_on(op.get_bind(), names)


def stored_digest(connection: Any) -> str | None:
    """The digest recorded by the last application (None if never applied)."""
    return connection.exec_driver_sql("SELECT max(digest) FROM sql_definitions").scalar()


def apply_if_changed(connection: Any) -> bool:
    """Apply every file and record the digest, unless the database has this digest already.

    Returns whether it applied them. At the same digest it writes nothing.
    """
    from sqlalchemy import text

    if stored_digest(connection) == digest():
        return False
    apply_on(connection)
    connection.exec_driver_sql("DELETE FROM sql_definitions")
    connection.execute(text("INSERT INTO sql_definitions (digest) VALUES (:d)"), {"d": digest()})
    return True
