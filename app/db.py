"""Async engine and sessions: one session and one transaction per request."""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import time
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

log = logging.getLogger(__name__)


def make_engine(
    url: str, *, pool_size: int = 10, max_overflow: int = 10, read_only: bool = False
) -> AsyncEngine:
    """An asyncpg engine with a bounded pool and statement caching.

    `hide_parameters`: a statement's parameters are clients' data (handles, evidence URLs),
    and SQLAlchemy would otherwise print them in every error message and log line.
    `read_only` (the read replica's engine): every transaction is read-only, connections are
    pinged when checked out and connecting gives up after a few seconds, so that a replica
    that went away is noticed before a request runs on it (see `get_read_session`).
    """
    server_settings = {"application_name": "flagbridge"}
    connect_args: dict[str, Any] = {"server_settings": server_settings}
    if read_only:
        server_settings.update(
            application_name="flagbridge-read", default_transaction_read_only="on"
        )
        connect_args["timeout"] = READ_CONNECT_TIMEOUT_SECONDS
    return create_async_engine(
        url,
        hide_parameters=True,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_pre_ping=read_only,
        pool_recycle=1800,
        connect_args=connect_args,
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


READ_CONNECT_TIMEOUT_SECONDS = 3.0
READ_RETRY_SECONDS = 5.0

# Zero while the standby has replayed everything it received (an idle primary sends no
# transactions, so the time since the last replayed one is not lag); else the age of the
# last replayed transaction. NULL (not a standby: the URL names a primary) counts as zero.
_LAG_SQL = """
SELECT CASE WHEN NOT pg_is_in_recovery()
              OR pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
            ELSE coalesce(extract(epoch FROM now() - pg_last_xact_replay_timestamp()), 0)
       END
"""


class ReadReplica:
    """The read replica (FLAGBRIDGE_READ_DATABASE_URL): its sessions, and whether it answers.

    When it cannot be reached, reads go to the primary for READ_RETRY_SECONDS before the
    replica is tried again: the service stays up and answers fresher data meanwhile.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.sessionmaker = make_sessionmaker(engine)
        self._down_until = 0.0

    @property
    def available(self) -> bool:
        """False while a recent failure to reach the replica sends reads to the primary."""
        return time.monotonic() >= self._down_until

    def mark_down(self) -> None:
        """Send reads to the primary for a while."""
        if self.available:
            log.warning("read replica unreachable; reading from the primary")
        self._down_until = time.monotonic() + READ_RETRY_SECONDS

    async def lag_seconds(self) -> float:
        """How far the replica's data is behind the primary; infinity if it cannot be reached."""
        try:
            async with self.engine.connect() as connection:
                return float((await connection.execute(text(_LAG_SQL))).scalar_one())
        except Exception as exc:
            if not database_unavailable(exc):
                raise
            self.mark_down()
            return math.inf


def make_read_replica(url: str | None, *, pool_size: int, max_overflow: int) -> ReadReplica | None:
    """The read replica of FLAGBRIDGE_READ_DATABASE_URL, or None when reads use the primary."""
    if not url:
        return None
    return ReadReplica(
        make_engine(url, pool_size=pool_size, max_overflow=max_overflow, read_only=True)
    )


async def get_read_session(request: Request) -> AsyncIterator[AsyncSession]:
    """Yield a session for reads that may be a little stale: the replica's, else the primary's.

    Used by statistics, the transparency page and the audit listing. The replica is
    reached before the handler runs; if it cannot be, the read goes to the primary.
    Nothing is committed: these routes never write.
    """
    replica: ReadReplica | None = getattr(request.app.state, "read_replica", None)
    if replica is not None and replica.available:
        async with replica.sessionmaker() as session:
            try:
                await session.connection()
            except Exception as exc:
                if not database_unavailable(exc):
                    raise
                replica.mark_down()
            else:
                yield session
                return
    primary: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    async with primary() as session:
        yield session


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
ReadSessionDep = Annotated[AsyncSession, Depends(get_read_session, scope="function")]


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
