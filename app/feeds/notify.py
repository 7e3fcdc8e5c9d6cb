"""Waking long-polling feed readers without paying NOTIFY on every write.

NOTIFY takes a global lock when its transaction commits, so writers never NOTIFY inside
their own transaction. Instead, after a commit, the process `poke`s the recipients: its own
waiters wake at once, and one coalesced NOTIFY (a separate, tiny transaction on the
listener connection) per `interval` tells the other processes which organisations have
news. Waiters re-read the database, which stays the source of truth; they also re-check
periodically, so a lost notification costs latency, never an event.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable, Iterator

from app.errors import RateLimited
from app.kit.listener import PgListener
from app.kit.periodic import cancel_and_wait

log = logging.getLogger(__name__)

CHANNEL = "flagbridge_feed"
EVERYONE = "*"
_MAX_PAYLOAD = 7000


class FeedWaiters:
    """Long-poll requests of this process, waiting for news for their organisation."""

    def __init__(self) -> None:
        self._events: dict[str, set[asyncio.Event]] = {}
        self._per_client: dict[str, int] = {}

    @contextlib.contextmanager
    def admitted(self, client_id: str, *, limit: int, retry_after: int) -> Iterator[None]:
        """Count one long-poll of the client while it runs; 429 if it already has `limit`."""
        # Each waiter holds memory and a share of the re-checks; an uncapped client could
        # park thousands. The count is per process: a fleet-wide budget is the rate limiter's.
        held = self._per_client.get(client_id, 0)
        if held >= limit:
            raise RateLimited(
                f"This client already has {limit} long-polls waiting",
                headers={"Retry-After": str(retry_after)},
            )
        self._per_client[client_id] = held + 1
        try:
            yield
        finally:
            remaining = self._per_client[client_id] - 1
            if remaining:
                self._per_client[client_id] = remaining
            else:
                del self._per_client[client_id]

    async def wait(self, org_id: str, seconds: float) -> bool:
        """Wait until news for org_id arrives or seconds pass; True if woken."""
        event = asyncio.Event()
        self._events.setdefault(org_id, set()).add(event)
        try:
            async with asyncio.timeout(seconds):
                await event.wait()
            return True
        except TimeoutError:
            return False
        finally:
            waiting = self._events.get(org_id)
            if waiting is not None:
                waiting.discard(event)
                if not waiting:
                    del self._events[org_id]

    def wake(self, org_ids: Iterable[str]) -> None:
        """Wake the waiters of these organisations ('*' wakes everyone)."""
        ids = set(org_ids)
        targets = list(self._events) if EVERYONE in ids else [o for o in ids if o in self._events]
        for org in targets:
            for event in self._events.get(org, ()):
                event.set()

    def on_notify(self, payload: str) -> None:
        """Listener callback: payload is a comma-separated list of organisation ids."""
        self.wake(payload.split(","))


class FeedNotifier:
    """Collects recipients after commits and sends one NOTIFY per interval for all of them."""

    def __init__(self, listener: PgListener, waiters: FeedWaiters, interval: float = 0.01):
        self.listener = listener
        self.waiters = waiters
        self.interval = interval
        self._pending: set[str] = set()
        self._has_pending = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        listener.subscribe(CHANNEL, waiters.on_notify)

    def poke(self, org_ids: Iterable[str]) -> None:
        """Call after a commit that added feed events for these organisations."""
        ids = {str(o) for o in org_ids}
        if not ids:
            return
        self.waiters.wake(ids)
        self._pending |= ids
        self._has_pending.set()

    async def start(self) -> None:
        """Start the coalescing sender."""
        self._task = asyncio.create_task(self._run(), name="feed-notifier")

    async def stop(self) -> None:
        """Flush what is pending and stop."""
        await cancel_and_wait(self._task)
        await self._flush()

    async def _run(self) -> None:
        while True:
            await self._has_pending.wait()
            await asyncio.sleep(self.interval)
            await self._flush()

    async def _flush(self) -> None:
        self._has_pending.clear()
        if not self._pending:
            return
        ids, self._pending = self._pending, set()
        payload = ",".join(sorted(ids))
        if len(payload) > _MAX_PAYLOAD:
            payload = EVERYONE
        await self.listener.notify(CHANNEL, payload)
