"""Async engine and sessions: one session and one transaction per request."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Annotated, Any

import asyncpg
from fastapi import Depends, Request
from sqlalchemy import text
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from app.errors import database_unavailable


def make_engine(url: str, *, pool_size: int = 10, max_overflow: int = 10) -> AsyncEngine:
    """An asyncpg engine with a bounded pool and statement caching.

    `hide_parameters`: a statement's parameters are clients' data (handles, evidence URLs),
    and SQLAlchemy would otherwise print them in every error message and log line.
    """
    return create_async_engine(
        url,
        hide_parameters=True,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_pre_ping=False,
        pool_recycle=1800,
        connect_args={"server_settings": {"application_name": "flagbridge"}},
    )


async def make_pg_pool(url: str, *, max_size: int) -> asyncpg.Pool:
    """A raw asyncpg pool for the hot paths that are one statement (e.g. submission).

    Such a statement runs as its own implicit transaction: one round trip instead of
    BEGIN, statement, COMMIT through the ORM session.
    """
    dsn = url.replace("postgresql+asyncpg://", "postgresql://", 1)
    pool = await asyncpg.create_pool(
        dsn,
        min_size=1,
        max_size=max_size,
        server_settings={"application_name": "flagbridge"},
        # The pool only runs single statements that leave no session state behind (their
        # locks are transaction-scoped), so the default RESET ALL round trip is waste.
        reset=_no_reset,
    )
    assert pool is not None
    return pool


async def _no_reset(connection: asyncpg.Connection) -> None:
    """Return connections to the pool as they are."""


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded objects usable after commit."""
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """Yield the request's session; commit when the handler succeeds, roll back otherwise.

    Registered with scope="function" so the commit happens before the response is sent:
    a client never sees 201 for a row that then failed to commit.
    """
    sessionmaker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    async with sessionmaker() as session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        else:
            await session.commit()
            for hook in session.info.pop("after_commit", []):
                hook()


def after_commit(session: AsyncSession, hook: Callable[[], None]) -> None:
    """Run hook once the request's transaction has committed (e.g. to wake feed readers)."""
    session.info.setdefault("after_commit", []).append(hook)


async def fetch_records(
    session: AsyncSession, statement: str, params: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """Run a read with `:name` parameters on the session's own connection, straight through asyncpg.

    The one raw-driver read path. Grouped statistics can be thousands of rows, and
    SQLAlchemy's row objects cost about 5 us each on top of the query, which is most of the
    time of such answers; so the statement runs on the session's driver connection (same
    transaction, same snapshot) and comes back as plain dicts. SQLAlchemy still parses the
    parameters: `text()` compiled for asyncpg gives the `$n` form, cached per statement.
    """
    sql, names = _positional(statement)
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver = raw.driver_connection
    assert driver is not None
    return [dict(r) for r in await driver.fetch(sql, *(params[n] for n in names))]


_ASYNCPG = asyncpg_dialect()


@functools.lru_cache(maxsize=512)
def _positional(statement: str) -> tuple[str, tuple[str, ...]]:
    """The statement with `$n` placeholders, and the parameter name of each n."""
    compiled = text(statement).compile(dialect=_ASYNCPG)
    return compiled.string, tuple(compiled.positiontup or ())


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


async def wait_for_database(url: str, *, within: float) -> None:
    """Return once the database takes a connection, retrying while it cannot be reached.

    A worker that (re)starts while PostgreSQL restarts would otherwise fail its start-up,
    and uvicorn's supervisor then stops every worker. After `within` seconds the error is
    raised, so a wrong URL or a database that stays away still fails start-up loudly.
    """
    dsn = url.replace("postgresql+asyncpg://", "postgresql://", 1)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        try:
            conn = await asyncpg.connect(dsn, timeout=10)
        except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
            away = isinstance(exc, OSError | TimeoutError) or database_unavailable(exc)
            if not away or loop.time() >= deadline:
                raise
            await asyncio.sleep(0.5)
        else:
            await conn.close()
            return
