"""A small Chrome DevTools Protocol client: headless Chromium driven over one websocket.

Enough for the browser tests: launch Chromium, open a page target in flattened session
mode, send commands, collect events, wait for one with a deadline, and stop everything.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect


class CDPError(RuntimeError):
    """A command answered with an error, or the browser went away."""


@dataclass
class Chromium:
    """A running headless Chromium and where its DevTools endpoint is."""

    process: subprocess.Popen[bytes]
    profile: Path
    websocket_url: str
    log_path: Path

    def stop(self) -> None:
        """Terminate the browser and every process it started, then remove its profile."""
        if self.process.poll() is None:
            # The browser was started in its own session: its process group holds the
            # zygote, renderer and utility processes as well.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        shutil.rmtree(self.profile, ignore_errors=True)


def launch_chromium(executable: str, *, deadline_seconds: float = 60.0) -> Chromium:
    """Start headless Chromium on a free DevTools port and wait until it listens."""
    profile = Path(tempfile.mkdtemp(prefix="fb-chromium-"))
    log_path = profile.with_suffix(".log")
    args = [
        executable,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-dev-shm-usage",
        "--disable-extensions",
        "--disable-sync",
        "--no-first-run",
        "--no-default-browser-check",
        "--hide-scrollbars",
        "--mute-audio",
        "--remote-debugging-port=0",
        f"--user-data-dir={profile}",
        "about:blank",
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True
        )
    port_file = profile / "DevToolsActivePort"
    deadline = time.monotonic() + deadline_seconds
    browser = Chromium(process, profile, "", log_path)
    while time.monotonic() < deadline:
        if process.poll() is not None:
            browser.stop()
            raise CDPError(
                f"chromium exited with {process.returncode}:\n{log_path.read_text()[-4000:]}"
            )
        try:
            lines = port_file.read_text().splitlines()
        except FileNotFoundError:
            lines = []
        if len(lines) >= 2 and lines[0].isdigit():
            browser.websocket_url = f"ws://127.0.0.1:{lines[0]}{lines[1]}"
            return browser
        time.sleep(0.05)
    browser.stop()
    raise CDPError(f"chromium did not open its DevTools port within {deadline_seconds} s")


@dataclass
class CDPClient:
    """One websocket to the browser; page sessions are addressed by sessionId."""

    ws: ClientConnection
    events: list[dict[str, Any]] = field(default_factory=list)
    _next_id: int = 0
    _pending: dict[int, asyncio.Future[dict[str, Any]]] = field(default_factory=dict)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)
    _reader: asyncio.Task[None] | None = None

    @classmethod
    async def connect(cls, url: str) -> CDPClient:
        """Open the browser websocket and start reading from it."""
        ws = await connect(url, max_size=None, ping_interval=None, open_timeout=30)
        client = cls(ws)
        client._reader = asyncio.create_task(client._read())
        return client

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                message = json.loads(raw)
                if "id" in message:
                    future = self._pending.pop(message["id"], None)
                    if future is not None and not future.done():
                        if "error" in message:
                            future.set_exception(CDPError(json.dumps(message["error"])))
                        else:
                            future.set_result(message.get("result", {}))
                else:
                    self.events.append(message)
                    self._changed.set()
        finally:
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(CDPError("the DevTools connection closed"))
            self._changed.set()

    async def send(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        *,
        session_id: str | None = None,
        within: float = 60.0,
    ) -> dict[str, Any]:
        """Send one command and wait for its result."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session_id is not None:
            message["sessionId"] = session_id
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[self._next_id] = future
        await self.ws.send(json.dumps(message))
        async with asyncio.timeout(within):
            return await future

    async def wait_for(
        self,
        method: str,
        *,
        session_id: str | None = None,
        since: int = 0,
        where: Callable[[dict[str, Any]], bool] = lambda params: True,
        within: float = 60.0,
    ) -> dict[str, Any]:
        """The first event named method (from index `since`), waiting up to `within` seconds."""
        async with asyncio.timeout(within):
            while True:
                for event in self.events[since:]:
                    if (
                        event.get("method") == method
                        and (session_id is None or event.get("sessionId") == session_id)
                        and where(event.get("params", {}))
                    ):
                        return event
                if self._reader is not None and self._reader.done():
                    raise CDPError(f"connection closed while waiting for {method}")
                self._changed.clear()
                await self._changed.wait()

    async def close(self) -> None:
        """Close the websocket and stop reading."""
        await self.ws.close()
        if self._reader is not None:
            try:
                await asyncio.wait_for(self._reader, timeout=10)
            except (TimeoutError, CDPError):
                self._reader.cancel()


@dataclass
class Page:
    """A page target attached in flattened mode, with its console and errors recorded."""

    client: CDPClient
    session_id: str

    @classmethod
    async def open(cls, client: CDPClient, *, width: int = 1280, height: int = 900) -> Page:
        """A new blank page with Runtime, Log and Page events enabled."""
        target = await client.send("Target.createTarget", {"url": "about:blank"})
        attached = await client.send(
            "Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}
        )
        page = cls(client, attached["sessionId"])
        for domain in ("Runtime", "Log", "Page"):
            await page.send(f"{domain}.enable")
        await page.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600},
        )
        return page

    async def send(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """A command to this page."""
        return await self.client.send(method, params, session_id=self.session_id)

    async def navigate(self, url: str, *, within: float = 60.0) -> None:
        """Go to url and wait for its load event (or fail on a navigation error)."""
        since = len(self.client.events)
        result = await self.send("Page.navigate", {"url": url})
        if result.get("errorText"):
            raise CDPError(f"navigation to {url} failed: {result['errorText']}")
        await self.client.wait_for(
            "Page.loadEventFired", session_id=self.session_id, since=since, within=within
        )

    async def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (returned by value)."""
        result = await self.send(
            "Runtime.evaluate", {"expression": expression, "returnByValue": True}
        )
        if "exceptionDetails" in result:
            raise CDPError(json.dumps(result["exceptionDetails"]))
        return result["result"].get("value")

    def errors(self) -> list[str]:
        """Uncaught exceptions, console errors and error log entries (CSP, failed loads)."""
        out = []
        for event in self.client.events:
            if event.get("sessionId") != self.session_id:
                continue
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.exceptionThrown":
                out.append(f"exception: {params['exceptionDetails'].get('text')}")
            elif method == "Runtime.consoleAPICalled" and params.get("type") == "error":
                texts = [str(a.get("value", a.get("description"))) for a in params["args"]]
                out.append("console.error: " + " ".join(texts))
            elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
                entry = params["entry"]
                out.append(
                    f"log ({entry.get('source')}): {entry.get('text')} {entry.get('url', '')}"
                )
        return out

    async def screenshot(self, path: Path) -> tuple[int, int]:
        """Save a full-page PNG; returns its CSS size."""
        metrics = await self.send("Page.getLayoutMetrics")
        size = metrics.get("cssContentSize") or metrics["contentSize"]
        width, height = int(size["width"]), int(size["height"])
        shot = await self.send(
            "Page.captureScreenshot",
            {
                "format": "png",
                "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1},
            },
        )
        data = base64.b64decode(shot["data"])
        await asyncio.to_thread(path.parent.mkdir, parents=True, exist_ok=True)
        await asyncio.to_thread(path.write_bytes, data)
        return width, height
