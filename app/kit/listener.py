"""One LISTEN connection per process, shared by everything that waits for NOTIFY.

Requests never hold a connection while they wait: they register a callback here. When the
connection drops, `connected` turns false (callers fall back to asking the database), and
the listener reconnects with backoff, calling the `on_connect` hooks so that caches rebuild
from the database, which stays the source of truth.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from app.kit.periodic import cancel_and_wait

log = logging.getLogger(__name__)

NotifyCallback = Callable[[str], None]
ConnectHook = Callable[[], Awaitable[None]]


def asyncpg_dsn(sqlalchemy_url: str) -> str:
    """Turn a postgresql+asyncpg:// URL into a DSN asyncpg.connect understands."""
    return sqlalchemy_url.replace("postgresql+asyncpg://", "postgresql://", 1)


class PgListener:
    """Holds the process's LISTEN connection and dispatches notifications to callbacks."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self._callbacks: dict[str, list[NotifyCallback]] = {}
        self._hooks: list[ConnectHook] = []
        self._conn: asyncpg.Connection | None = None
        self._task: asyncio.Task[None] | None = None
        self._lost = asyncio.Event()
        self.connected = False

    def subscribe(self, channel: str, callback: NotifyCallback) -> None:
        """Call callback(payload) for every NOTIFY on channel (register before start)."""
        self._callbacks.setdefault(channel, []).append(callback)

    def on_connect(self, hook: ConnectHook) -> None:
        """Run hook after every (re)connect, once LISTEN is in place."""
        self._hooks.append(hook)

    async def start(self) -> None:
        """Connect once now (so start-up fails loudly) and keep the connection alive after."""
        await self._connect()
        self._task = asyncio.create_task(self._supervise(), name="pg-listener")

    async def stop(self) -> None:
        """Close the connection and stop reconnecting."""
        await cancel_and_wait(self._task)
        if self._conn is not None and not self._conn.is_closed():
            await self._conn.close()
        self.connected = False

    async def notify(self, channel: str, payload: str) -> bool:
        """Send NOTIFY on the listening connection; False if it is down (callers fall back)."""
        conn = self._conn
        if conn is None or conn.is_closed() or not self.connected:
            return False
        try:
            await conn.execute("SELECT pg_notify($1, $2)", channel, payload)
        except Exception:
            log.warning("notify failed", exc_info=True)
            return False
        return True

    def _dispatch(self, _conn: Any, _pid: int, channel: str, payload: str) -> None:
        for cb in self._callbacks.get(channel, ()):
            try:
                cb(payload)
            except Exception:
                log.exception("notify callback failed", extra={"channel": channel})

    def _on_termination(self, _conn: Any) -> None:
        self.connected = False
        self._lost.set()

    async def _connect(self) -> None:
        conn = await asyncpg.connect(self.dsn, server_settings={"application_name": "fb-listen"})
        for channel in self._callbacks:
            await conn.add_listener(channel, self._dispatch)
        conn.add_termination_listener(self._on_termination)
        self._conn = conn
        self._lost.clear()
        for hook in self._hooks:
            await hook()
        self.connected = True

    async def _supervise(self) -> None:
        delay = 0.2
        while True:
            await self._lost.wait()
            self.connected = False
            log.warning("listener connection lost; reconnecting")
            while True:
                try:
                    await self._connect()
                    delay = 0.2
                    break
                except Exception:
                    log.warning("listener reconnect failed", extra={"retry_in": delay})
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 10.0)
