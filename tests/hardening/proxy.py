"""A TCP proxy in front of the test PostgreSQL that a test can cut and restore.

Cutting aborts every proxied connection (what the app sees when PostgreSQL restarts or a
backend is terminated) and stops listening (new connections are refused), which is the
database going away under a running app without stopping the session's shared server.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from sqlalchemy.engine import make_url


class DatabaseProxy:
    """Forwards 127.0.0.1:<port> to the server behind a SQLAlchemy URL."""

    def __init__(self, target_url: str) -> None:
        self.target_url = target_url
        parts = urlsplit(target_url)
        socket_dirs = parse_qs(parts.query).get("host")
        self._socket = None
        if socket_dirs:
            found = Path(socket_dirs[0]).glob(".s.PGSQL.*")
            self._socket = str(next(p for p in found if p.suffix != ".lock"))
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port or 5432
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        """The target URL rewritten to go through the proxy."""
        url = make_url(self.target_url)
        query = {k: v for k, v in url.query.items() if k != "host"}
        rewritten = url.set(host="127.0.0.1", port=self.port, query=query)
        return rewritten.render_as_string(hide_password=False)

    async def start(self) -> None:
        """Listen (again, on the same port once it has been chosen); a no-op if listening."""
        if self._server is not None:
            return
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        """Drop every connection and refuse new ones."""
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()
        await self._server.wait_closed()
        self._server = None

    async def _open_target(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._socket is not None:
            return await asyncio.open_unix_connection(self._socket)
        return await asyncio.open_connection(self._host, self._port)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await self._open_target()
        except OSError:
            writer.transport.abort()
            return
        self._writers |= {writer, up_writer}
        await asyncio.gather(
            _pipe(reader, up_writer), _pipe(up_reader, writer), return_exceptions=True
        )
        self._writers -= {writer, up_writer}


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    finally:
        with contextlib.suppress(Exception):
            writer.transport.abort()
