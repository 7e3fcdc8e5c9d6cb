"""Async engine and sessions: one session and one transaction per request."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Annotated

import asyncpg
from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)


def make_engine(url: str, *, pool_size: int = 10, max_overflow: int = 10) -> AsyncEngine:
    """An asyncpg engine with a bounded pool and statement caching."""
    return create_async_engine(
        url,
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


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
