"""Recent transparency reports kept in the process, so public traffic costs few queries."""

from __future__ import annotations

import asyncio
import time

from app.stats.period import Period
from app.stats.public_schemas import TransparencyReport


class ReportCache:
    """Recent reports by period, so public traffic costs a few queries a minute at most."""

    def __init__(self, *, ttl_seconds: float = 60.0, max_entries: int = 64) -> None:
        self.ttl = ttl_seconds
        self.max_entries = max_entries
        self._entries: dict[Period, tuple[float, TransparencyReport]] = {}
        # One uncached build at a time per process: anonymous visitors stepping through
        # periods queue behind each other instead of taking every core.
        self.build_slot = asyncio.Semaphore(1)

    def get(self, period: Period) -> TransparencyReport | None:
        """The cached report of the period, if still fresh."""
        entry = self._entries.get(period)
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1]

    def put(self, period: Period, report: TransparencyReport) -> None:
        """Keep a report for ttl seconds; the oldest entries make room."""
        if len(self._entries) >= self.max_entries:
            for key in sorted(self._entries, key=lambda k: self._entries[k][0])[
                : len(self._entries) - self.max_entries + 1
            ]:
                del self._entries[key]
        self._entries[period] = (time.monotonic() + self.ttl, report)
