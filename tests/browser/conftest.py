"""Browser fixtures: Debian's chromium (installed when missing), a real uvicorn server."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
import uvicorn

from app.config import Settings
from app.main import create_app
from tests.browser.cdp import CDPClient, launch_chromium
from tests.browser.chromium import ChromiumUnavailable, ensure_chromium, ensure_script_fonts


@pytest.fixture(scope="session")
def chromium_executable() -> str:
    """Path of chromium; the test fails (never skips) when it cannot be had: the issue
    requires the browser test to run in `make test`."""
    try:
        ensure_script_fonts()  # the page in Thai and Burmese must draw real glyphs
        return ensure_chromium()
    except ChromiumUnavailable as exc:
        pytest.fail(f"the browser test needs Chromium: {exc}", pytrace=False)


@pytest_asyncio.fixture
async def live_server(settings: Settings, database_url: str) -> AsyncIterator[str]:
    """The application served by uvicorn on a free 127.0.0.1 port, in its own thread and
    event loop, against this test's database. Yields its base URL."""
    application: Any = create_app(settings, database_url=database_url)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(application, lifespan="on", log_level="warning", access_log=False)
    )
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [listener]}, name="live-server", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive():
            pytest.fail("the live server stopped while starting (see the log above)")
        if time.monotonic() > deadline:
            server.should_exit = True
            pytest.fail("the live server did not start within 60 s")
        await asyncio.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.to_thread(thread.join, 30)
        listener.close()
        assert not thread.is_alive(), "the live server did not stop"


@pytest_asyncio.fixture
async def browser(chromium_executable: str) -> AsyncIterator[CDPClient]:
    """A headless Chromium with a DevTools connection; stopped with all its processes."""
    chromium = await asyncio.to_thread(launch_chromium, chromium_executable)
    try:
        client = await CDPClient.connect(chromium.websocket_url)
        try:
            yield client
        finally:
            await client.close()
    finally:
        await asyncio.to_thread(chromium.stop)
