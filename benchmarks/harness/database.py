"""The benchmark database: the embedded PostgreSQL of var/bench (or DATABASE_URL), migrated."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent.parent
BENCH = ROOT / "benchmarks"
DATA_DIR = ROOT / "var" / "bench"
RESULTS = BENCH / "results"


@dataclass
class Database:
    """Where the benchmark's database is and whether this process owns the server."""

    url: str  # postgresql+asyncpg://
    embedded: bool
    server: Any = None  # keeps the embedded server attached until this process exits
    postmaster_pid: int | None = None

    @property
    def dsn(self) -> str:
        """The URL in the form asyncpg.connect takes."""
        return self.url.replace("postgresql+asyncpg://", "postgresql://", 1)


@contextlib.asynccontextmanager
async def connect(db: Database) -> AsyncIterator[Any]:
    """A plain asyncpg connection to the benchmark database, closed on exit."""
    import asyncpg

    conn = await asyncpg.connect(db.dsn)
    try:
        yield conn
    finally:
        await conn.close()


async def _recreate(socket_dir: str, name: str, *, reuse: bool, settings: dict[str, str]) -> bool:
    """Drop and create the database unless reusing an existing one; True if recreated."""
    import asyncpg

    conn = await asyncpg.connect(host=socket_dir, user="postgres", database="postgres")
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if reuse and exists:
            return False
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
        for key, value in settings.items():
            await conn.execute(f'ALTER DATABASE "{name}" SET {key} = {value}')
        return True
    finally:
        await conn.close()


def open_database(
    name: str, *, reuse: bool = False, settings: dict[str, str] | None = None
) -> tuple[Database, bool]:
    """DATABASE_URL as is, else database `name` on the embedded server in var/bench, migrated.

    Returns (database, fresh): fresh is False only when `reuse` kept an existing database.
    """
    from app.embedded import socket_dir_of, sqlalchemy_url, start_embedded, to_asyncpg_url
    from app.migrations import upgrade_to_head

    fresh = True
    if os.environ.get("DATABASE_URL"):
        db = Database(to_asyncpg_url(os.environ["DATABASE_URL"]), embedded=False)
    else:
        server = start_embedded(DATA_DIR)
        socket_dir = socket_dir_of(server)
        fresh = asyncio.run(_recreate(socket_dir, name, reuse=reuse, settings=settings or {}))
        db = Database(
            sqlalchemy_url(socket_dir, name),
            embedded=True,
            server=server,
            postmaster_pid=server.get_postmaster_info().pid,
        )
    upgrade_to_head(ROOT / "alembic", db.url)
    return db, fresh


async def create_clients(
    db: Database, specs: dict[str, dict[str, Any]], *, client_name: str = "benchmark"
) -> dict[str, dict[str, str]]:
    """Organisations (name -> OrganizationCreate fields), each with one API client.

    Made through the organisations service, as an operator would; returns, per name, the
    organisation's id and its client's id and secret.
    """
    from app.db import make_engine, make_sessionmaker
    from app.orgs import service
    from app.orgs.schemas import ClientCreate, OrganizationCreate

    engine = make_engine(db.url, pool_size=1, max_overflow=0)
    out: dict[str, dict[str, str]] = {}
    try:
        async with make_sessionmaker(engine)() as session, session.begin():
            for key, spec in specs.items():
                org = await service.create_organization(
                    session=session,
                    actor=None,
                    actor_label="benchmark",
                    data=OrganizationCreate(**spec),
                )
                client, secret = await service.create_client(
                    session=session,
                    actor=None,
                    actor_label="benchmark",
                    data=ClientCreate(organization_id=org.id, name=client_name),
                )
                out[key] = {"id": str(org.id), "client_id": str(client.id), "secret": secret}
    finally:
        await engine.dispose()
    return out


async def pg_facts(db: Database) -> dict[str, str]:
    """The PostgreSQL settings that matter for write throughput."""
    async with connect(db) as conn:
        names = ("server_version", "synchronous_commit", "fsync", "shared_buffers")
        return {name: str(await conn.fetchval(f"SHOW {name}")) for name in names}


async def checkpoint(db: Database) -> None:
    """Flush dirty pages before a timed round so no round inherits another's checkpoint,
    and bring the planner's statistics up to date, as autovacuum keeps them in a running
    service: the submission functions use generic plans, made once per connection, and a
    plan made while a table was empty (a fresh benchmark database) stays a plan for an
    empty table until the next ANALYZE."""
    import asyncpg

    async with connect(db) as conn:
        await conn.execute("ANALYZE")
        with contextlib.suppress(asyncpg.PostgresError):  # needs superuser / pg_checkpoint
            await conn.execute("CHECKPOINT")
