"""Fixed-window request counters shared by every process through PostgreSQL, at almost no
cost per request.

Why not the `limits` library: its storages are memory, Redis, Memcached, MongoDB and etcd;
none is PostgreSQL, and FlagBridge runs on PostgreSQL alone. Why not one round trip per
request: the single submission is a measured hot path (one statement for many requests), and
a counter statement per request would double its database work.

So each process decides locally and reconciles in batches:

- the first request of a key in a window that this process sees waits for one flush (below),
  which tells the process the fleet-wide count so far;
- far from the quota (more than a tenth of it, and more than 10 requests, left as far as
  this process knows), a request is admitted at once and counted in memory;
- every `flush_seconds` (50 ms) while there is traffic, one statement adds this process's
  counts of every key to `rate_limit_window` and returns the fleet-wide totals, which
  become what the process knows;
- near the quota, a request waits for that statement and is admitted only if its own
  position in the window's fleet-wide count is within the quota: there the limit is exact;
- once the known total reaches the quota, requests are refused locally until the window ends.

Precision: what a process knows of a key is at most one flush old, so the quota is exceeded
only if the other processes admit more than the margin (a tenth of the quota, at least 10
requests) in one flush interval without this one seeing it: a client sending 60 requests
in 50 ms (1 200 a second) against the default 600 writes a minute. Below that rate, no
request over the quota is admitted; above it, the excess is at most what the other
processes admit in one interval. The cost: one awaited flush per key, window and process
(the first request), plus one per request in the margin; none otherwise.
If PostgreSQL cannot be reached, requests are admitted (the limiter never turns an outage
into 429s) and the counts are dropped.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.kit.periodic import cancel_and_wait
from app.ratelimit import repository
from app.ratelimit.decision import Decision

log = logging.getLogger(__name__)

MIN_MARGIN = 10
"""The last tenth of a quota, and at least its last 10 requests, are counted exactly."""

Window = tuple[str, str, int]
"""(bucket, key, window start in epoch seconds)."""


@dataclass
class _Batch:
    """Counts gathered since the last flush, and the requests waiting for its totals."""

    hits: dict[Window, int] = field(default_factory=dict)
    done: asyncio.Future[dict[Window, int] | None] | None = None


class SharedCounter:
    """This process's view of the fleet-wide counts, flushed to PostgreSQL in batches."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        flush_seconds: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.flush_seconds = flush_seconds
        self.clock = clock
        self._known: dict[Window, int] = {}
        self._in_flight: dict[Window, int] = {}
        self._window_seconds: dict[str, int] = {}
        self._batch = _Batch()
        self._has_hits = asyncio.Event()
        self._urgent = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start the flusher."""
        self._task = asyncio.create_task(self._run(), name="rate-limit-flush")

    async def stop(self) -> None:
        """Send what is counted and stop."""
        await cancel_and_wait(self._task)
        await self._flush()

    async def hit(self, *, bucket: str, key: str, quota: int, window_seconds: int) -> Decision:
        """Count one request of `key` against `quota` per window; whether it may go ahead."""
        now = self.clock()
        start = int(now // window_seconds) * window_seconds
        window = (bucket, key, start)
        reset = start + window_seconds - now
        self._window_seconds[bucket] = window_seconds
        batch = self._batch
        known = self._known.get(window)
        used = (known or 0) + self._in_flight.get(window, 0) + batch.hits.get(window, 0)

        def decide(allowed: bool, position: int) -> Decision:
            return Decision(bucket, quota, window_seconds, allowed, quota - position, reset)

        if used >= quota:
            return decide(False, quota)
        batch.hits[window] = batch.hits.get(window, 0) + 1
        self._has_hits.set()
        if known is not None and quota - used > max(MIN_MARGIN, quota // 10):
            return decide(True, used + 1)
        # Near the quota, or the first request of the window this process sees (it knows
        # nothing of the other processes' counts yet): take a place in the fleet-wide count.
        place_in_batch = batch.hits[window]
        if batch.done is None:
            batch.done = asyncio.get_running_loop().create_future()
        self._urgent.set()
        totals = await asyncio.shield(batch.done)
        if totals is None or window not in totals:
            return decide(True, used + 1)  # PostgreSQL away: admit rather than refuse
        position = totals[window] - batch.hits[window] + place_in_batch
        return decide(position <= quota, min(position, quota))

    async def _run(self) -> None:
        while True:
            await self._has_hits.wait()
            if not self._urgent.is_set():
                try:
                    async with asyncio.timeout(self.flush_seconds):
                        await self._urgent.wait()
                except TimeoutError:
                    pass
            await self._flush()

    async def _flush(self) -> None:
        batch, self._batch = self._batch, _Batch()
        self._has_hits.clear()
        self._urgent.clear()
        if not batch.hits:
            return
        self._in_flight = batch.hits
        totals: dict[Window, int] | None = None
        try:
            rows = [
                (b, k, datetime.fromtimestamp(s, UTC), n)
                for (b, k, s), n in sorted(batch.hits.items())
            ]
            async with self.sessionmaker() as session, session.begin():
                added = await repository.add_hits(session, rows)
            totals = {(b, k, int(s.timestamp())): n for b, k, s, n in added}
        except Exception as exc:
            # Never the keys (client ids, addresses) in the log: only what went wrong.
            log.warning("rate-limit counts not flushed: %s", type(exc).__name__)
        finally:
            self._in_flight = {}
            if totals is not None:
                self._remember(totals)
            if batch.done is not None and not batch.done.done():
                batch.done.set_result(totals)

    def _remember(self, totals: dict[Window, int]) -> None:
        """Keep the fleet-wide totals of current windows; forget windows that are over."""
        self._known.update(totals)
        now = self.clock()
        stale = [w for w in self._known if w[2] + self._window_seconds.get(w[0], 0) < now]
        for window in stale:
            del self._known[window]
