"""The blocking client: `FlagBridgeClient(url, client_id, client_secret)`."""

from __future__ import annotations

import time
from collections.abc import Iterator
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


class FlagBridgeClient(Routes):
    """FlagBridge over blocking HTTP; one per thread. Use as a context manager."""

    def __init__(
        self,
        base_url: str,
        client_id: str,
        client_secret: str,
        *,
        scope: str | None = None,
        timeout: float = 30.0,
        max_retries: int = 5,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.core = ClientCore(
            base_url.rstrip("/"), client_id, client_secret, scope=scope, max_retries=max_retries
        )
        self.http = httpx.Client(base_url=self.core.base_url, timeout=timeout, transport=transport)

    def __enter__(self) -> FlagBridgeClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connections."""
        self.http.close()

    def _drive(self, steps: Exchange) -> Any:
        sent: Any = None
        while True:
            try:
                step = steps.send(sent)
            except StopIteration as done:
                return done.value
            if isinstance(step, Call):
                try:
                    sent = step.send(self.http)
                except httpx.TransportError as exc:
                    sent = exc
            else:
                time.sleep(step)
                sent = None

    def feed(
        self,
        *,
        store: CursorStore | None = None,
        wait: float = 0,
        limit: int = 100,
        follow: bool = False,
    ) -> Iterator[Json]:
        """Every feed item from the stored position; the position is saved after each page,
        so a crash repeats at most one page (at least once, never skipped). With `follow`
        it long-polls for ever; otherwise it stops at the end of the feed."""
        position = FeedPosition(store, follow)
        while True:
            page = self.read_feed(position.cursor, limit=limit, wait=wait)
            yield from page["items"]
            if not position.advance(page):
                return
