"""The bearer token is checked before a body is read; the large limit is for batch routes only.

These talk ASGI to the app directly, with a `receive` that records whether it was called,
so "answered without reading the body" is observed rather than inferred from timing.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import httpx

from app.middleware import ANONYMOUS_BODY_ROUTES, BATCH_ROUTES
from tests.conftest import World, party

NINE_MB = 9 * 1024 * 1024


async def _call(
    app: Any, method: str, path: str, headers: dict[str, str], *, announced: int
) -> tuple[int, dict[str, Any], int]:
    """Send only headers announcing a body; return (status, problem, times receive was called).

    Status 0 means the app started reading the body (it would wait for it forever).
    """
    reads = 0
    reading = asyncio.Event()

    async def receive() -> dict[str, Any]:
        nonlocal reads
        reads += 1
        reading.set()
        await asyncio.Event().wait()  # the body never comes
        raise AssertionError("unreachable")

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    raw = {k.lower(): v for k, v in headers.items()}
    raw |= {"content-length": str(announced), "content-type": "application/json"}
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(k.encode(), v.encode()) for k, v in raw.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        "app": app,
    }
    answering = asyncio.create_task(app(scope, receive, send))
    read = asyncio.create_task(reading.wait())
    await asyncio.wait({answering, read}, timeout=10, return_when=asyncio.FIRST_COMPLETED)
    if not answering.done():
        answering.cancel()
        read.cancel()
        return 0, {}, reads
    read.cancel()
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return sent[0]["status"], json.loads(body), reads


async def test_anonymous_nine_megabytes_to_the_batch_route_get_401_without_a_read(
    app: Any,
) -> None:
    status, problem, reads = await _call(app, "POST", "/v1/flags/batch", {}, announced=NINE_MB)
    assert (status, problem["status"], reads) == (401, 401, 0)


async def test_a_bad_token_is_refused_before_the_body_on_every_authenticated_route(
    app: Any,
) -> None:
    body_routes = [
        (method.upper(), template)
        for template, operations in app.openapi()["paths"].items()
        for method in operations
        if method.upper() in {"POST", "PUT", "PATCH", "DELETE"}
    ]
    assert len(body_routes) > 20
    bogus = {"Authorization": "Bearer not.a.token"}
    for method, template in body_routes:
        path = re.sub(r"\{[^}]+\}", "00000000-0000-0000-0000-000000000000", template)
        status, _, reads = await _call(app, method, path, bogus, announced=NINE_MB)
        if template in ANONYMOUS_BODY_ROUTES:
            assert status == 413, (method, template)
        else:
            assert (status, reads) == (401, 0), (method, template)


async def test_the_large_limit_applies_to_batch_routes_only(
    app: Any, client: httpx.AsyncClient
) -> None:
    agency = await party(World(app, client), "agency")
    settings = app.state.settings
    between = settings.max_body_bytes + 1
    assert between < settings.max_batch_body_bytes
    assert {"/v1/flags/batch", "/v1/outcomes/batch"} == BATCH_ROUTES
    # Over the small limit: a batch route reads on; another route, even one whose path
    # ends in /batch, refuses at once.
    status, _, reads = await _call(
        app, "POST", "/v1/flags/batch", agency.headers, announced=between
    )
    assert (status, reads) == (0, 1)
    for path in ("/v1/flags", "/v1/holds/batch"):
        status, problem, reads = await _call(app, "POST", path, agency.headers, announced=between)
        assert (status, problem["status"], reads) == (413, 413, 0), path
