"""Background jobs that every server process runs; each must be safe to run concurrently."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


async def cancel_and_wait(task: asyncio.Task[None] | None) -> None:
    """Stop a background task of this process and wait until it has stopped."""
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


class Periodic:
    """Runs a coroutine function every `seconds`, logging (never raising) its failures."""

    def __init__(self, name: str, seconds: float, job: Callable[[], Awaitable[object]]):
        self.name = name
        self.seconds = seconds
        self.job = job
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Begin running in the background."""
        self._task = asyncio.create_task(self._loop(), name=self.name)

    async def stop(self) -> None:
        """Stop running."""
        await cancel_and_wait(self._task)

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.seconds)
            try:
                await self.job()
            except Exception:
                log.warning("periodic job failed", extra={"job": self.name}, exc_info=True)
