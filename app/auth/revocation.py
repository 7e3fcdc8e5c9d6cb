"""Which clients are revoked, known to every worker at once.

Each process keeps the (small) set of revoked client ids in memory so that authenticating
a request costs no database round trip. Revoking a client sends NOTIFY in the same
transaction; every process's listener adds the id as soon as it commits. The set is
rebuilt from the table after every (re)connect of the listener and periodically, so a lost
notification heals itself. While the listener is down the set might be stale, so each
request then asks the database instead: correctness never depends on NOTIFY.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.kit.listener import PgListener

log = logging.getLogger(__name__)

CHANNEL = "flagbridge_client_revoked"


class RevocationList:
    """In-memory revoked-client set kept current by LISTEN/NOTIFY, with a database fallback."""

    def __init__(self, engine: AsyncEngine, listener: PgListener, refresh_seconds: float):
        self.engine = engine
        self.listener = listener
        self.refresh_seconds = refresh_seconds
        self._revoked: set[uuid.UUID] = set()
        self._task: asyncio.Task[None] | None = None
        listener.subscribe(CHANNEL, self._on_notify)
        listener.on_connect(self.reload)

    def _on_notify(self, payload: str) -> None:
        with contextlib.suppress(ValueError):
            self._revoked.add(uuid.UUID(payload))

    def mark_revoked(self, client_id: uuid.UUID) -> None:
        """Record a revocation this process made itself (no need to wait for NOTIFY)."""
        self._revoked.add(client_id)

    async def reload(self) -> None:
        """Rebuild the set from the table."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                text("SELECT id FROM api_client WHERE revoked_at IS NOT NULL")
            )
            # Union, never replace: a revocation that NOTIFY delivered while this query ran
            # would otherwise be dropped, and revocations are never undone.
            self._revoked |= {r[0] for r in rows}

    async def start(self) -> None:
        """Begin periodic rebuilds (the listener's connect hook did the first one)."""
        self._task = asyncio.create_task(self._refresh_loop(), name="revocation-refresh")

    async def stop(self) -> None:
        """Stop the periodic rebuilds."""
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _refresh_loop(self) -> None:
        while True:
            await asyncio.sleep(self.refresh_seconds)
            try:
                await self.reload()
            except Exception:
                log.warning("revocation reload failed", exc_info=True)

    async def is_revoked(self, client_id: uuid.UUID) -> bool:
        """True if the client is revoked (asks the database while the listener is down)."""
        if client_id in self._revoked:
            return True
        if self.listener.connected:
            return False
        async with self.engine.connect() as conn:
            row = await conn.execute(
                text("SELECT revoked_at IS NOT NULL FROM api_client WHERE id = :id"),
                {"id": client_id},
            )
            value = row.scalar()
        return value is None or bool(value)
