"""The asyncio client: `AsyncFlagBridgeClient(url, client_id, client_secret)`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx

from app.client.core import (
    Call,
    ClientCore,
    CursorStore,
    Exchange,
    FeedPosition,
    Json,
    Routes,
)


class AsyncFlagBridgeClient(Routes):
    """FlagBridge over asyncio HTTP: every operation is awaited. Use `async with`."""

    def __init__(
        self,
        base_url: str,
        client_id: str,
        client_secret: str,
        *,
        scope: str | None = None,
        timeout: float = 30.0,
        max_retries: int = 5,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.core = ClientCore(
            base_url.rstrip("/"), client_id, client_secret, scope=scope, max_retries=max_retries
        )
        self.http = httpx.AsyncClient(
            base_url=self.core.base_url, timeout=timeout, transport=transport
        )

    async def __aenter__(self) -> AsyncFlagBridgeClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connections."""
        await self.http.aclose()

    async def _drive(self, steps: Exchange) -> Any:
        sent: Any = None
        while True:
            try:
                step = steps.send(sent)
            except StopIteration as done:
                return done.value
            if isinstance(step, Call):
                try:
                    sent = await step.send(self.http)
                except httpx.TransportError as exc:
                    sent = exc
            else:
                await asyncio.sleep(step)
                sent = None

    async def feed(
        self,
        *,
        store: CursorStore | None = None,
        wait: float = 0,
        limit: int = 100,
        follow: bool = False,
    ) -> AsyncIterator[Json]:
        """Every feed item from the stored position (see FlagBridgeClient.feed)."""
        position = FeedPosition(store, follow)
        while True:
            page = await self.read_feed(position.cursor, limit=limit, wait=wait)
            for item in page["items"]:
                yield item
            if not position.advance(page):
                return
