"""Webhook tests: settings with short back-off, and a real HTTP receiver on loopback."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import pytest_asyncio
import uvicorn

from app.config import Settings


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Test settings plus loopback receivers, fast retries and no worker inside the app
    (each test drives its own workers)."""
    return settings.model_copy(
        update=dict(
            webhook_allow_private=True,
            webhook_worker_in_serve=False,
            webhook_retry_base_seconds=0.2,
            webhook_retry_max_seconds=1.0,
            webhook_timeout_seconds=1.0,
            webhook_lease_seconds=1.5,
            webhook_poll_seconds=0.05,
        )
    )


@dataclass
class Received:
    """One request the receiver got."""

    headers: dict[str, str]
    body: bytes
    status: int


@dataclass
class Receiver:
    """A real HTTP server on 127.0.0.1 answering from a script (default 200)."""

    url: str
    requests: list[Received] = field(default_factory=list)
    script: list[int | str] = field(default_factory=list)
    """Answers in order: a status, or "hang" (never answer)."""
    answer: Callable[[dict[str, str], bytes], int] | None = None

    async def wait_for(self, n: int, within: float = 20.0) -> list[Received]:
        """Poll until n requests arrived (fails at the deadline)."""
        deadline = time.monotonic() + within
        while len(self.requests) < n:
            assert time.monotonic() < deadline, f"got {len(self.requests)} of {n} requests"
            await asyncio.sleep(0.02)
        return self.requests


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest_asyncio.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """A loopback receiver running in the test's event loop."""
    port = _free_port()
    rec = Receiver(url=f"http://127.0.0.1:{port}/hook")
    never = asyncio.Event()

    async def app(scope: dict[str, Any], receive: Callable[[], Awaitable[Any]], send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            msg = await receive()
            body += msg.get("body", b"")
            if not msg.get("more_body"):
                break
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        step: int | str = rec.script.pop(0) if rec.script else 200
        if rec.answer is not None:
            step = rec.answer(headers, body)
        rec.requests.append(Received(headers, body, step if isinstance(step, int) else 0))
        if step == "hang":
            await never.wait()
        extra = [(b"retry-after", b"1")] if step == 429 else []
        await send({"type": "http.response.start", "status": step, "headers": extra})
        await send({"type": "http.response.body", "body": b"ok"})

    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn exposes only a flag
        await asyncio.sleep(0.01)
    try:
        yield rec
    finally:
        never.set()
        server.should_exit = True
        await task
