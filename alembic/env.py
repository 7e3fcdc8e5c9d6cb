"""Alembic environment: async engine, our metadata, one transaction per migration run."""

from __future__ import annotations

import asyncio
import threading

from sqlalchemy import pool
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine

from alembic import context
from app import sql_definitions
from app.kit.locks import AdvisoryLock
from app.migrations import RESTRICT_SERVICE_ROLE_SQL, MigrationRefused, include_name
from app.models import Base

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    return config.attributes.get("database_url") or config.get_main_option("sqlalchemy.url")


def run_migrations_offline() -> None:
    """Emit SQL to stdout instead of running it."""
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        include_name=include_name,
        transaction_per_migration=False,
    )
    with context.begin_transaction():
        # Serialise concurrent migrators (several workers or CLI runs starting at once).
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({int(AdvisoryLock.MIGRATIONS)})")
        current = context.get_context().get_current_revision()
        role = connection.exec_driver_sql("SELECT current_user").scalar()
        head = context.script.get_current_head()
        try:
            context.run_migrations()
            # At head, the functions and triggers are the files' (app/sql_definitions.py);
            # with the digest unchanged this writes nothing.
            if context.get_context().get_current_revision() == head:
                sql_definitions.apply_if_changed(connection)
        except Exception as exc:
            # Through SQLAlchemy the driver's error is exc.orig; scripts run on the asyncpg
            # connection itself (app.migrations.execute_script) raise it bare.
            error = exc.orig if isinstance(exc, DBAPIError) else exc
            if getattr(error, "sqlstate", None) != "42501":  # insufficient_privilege
                raise
            raise MigrationRefused(_refusal(str(role), current, error)) from exc
        # New tables and partitions got the service role's default privileges; take the
        # rewrites of the append-only ones back (a no-op unless we act for the owner).
        connection.exec_driver_sql(RESTRICT_SERVICE_ROLE_SQL)


def _refusal(role: str, current: str | None, error: BaseException) -> str:
    """Why the migrations could not run, and what to do, in words an operator can act on."""
    head = context.script.get_current_head()
    reason = str(error).splitlines()[0]
    if current == head:
        return (
            f"the database schema is at revision {head} but its SQL functions differ from "
            f"this version of FlagBridge's (app/*/sql/*.sql), and the database role {role!r} "
            f"may not replace them ({reason}). Run `flagbridge migrate` with DATABASE_URL "
            "naming the owner role (see deploy/roles.sql), then start the service again."
        )
    if reason.startswith("<class "):  # SQLAlchemy's adapted errors name the driver's class
        reason = reason.split(": ", 1)[-1]
    return (
        f"the database schema is at revision {current or '(none)'} but this version of "
        f"FlagBridge needs {head}, and the database role {role!r} may not change the "
        f"schema ({reason}). Run `flagbridge migrate` with DATABASE_URL naming the owner "
        "role (see deploy/roles.sql), then start the service again."
    )


async def _run_async() -> None:
    engine = create_async_engine(_url(), poolclass=pool.NullPool)
    async with engine.connect() as conn:
        await conn.run_sync(_run)
    await engine.dispose()


def run_migrations_online() -> None:
    """Run migrations on an async engine, also when called from inside a running loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(_run_async())
        return
    # Called from async code (e.g. a test fixture): run in a thread with its own loop.
    errors: list[BaseException] = []

    def target() -> None:
        try:
            asyncio.run(_run_async())
        except BaseException as exc:
            errors.append(exc)

    t = threading.Thread(target=target)
    t.start()
    t.join()
    if errors:
        raise errors[0]


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
