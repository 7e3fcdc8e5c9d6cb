"""503 with Retry-After, never 500, while the database cannot be reached; served again after.

The app runs against the database through a proxy (tests/hardening/proxy.py). Cutting it
breaks every pooled connection and refuses new ones, which is what a PostgreSQL restart or
fail-over looks like from the app.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio

from app.config import Settings
from app.main import create_app
from tests.conftest import World, assert_problem, flag_body, party
from tests.hardening.proxy import DatabaseProxy
from tests.openapi_check import ResponseChecker


@pytest_asyncio.fixture
async def proxy(database_url: str) -> AsyncIterator[DatabaseProxy]:
    """A proxy in front of this test's database."""
    db = DatabaseProxy(database_url)
    await db.start()
    yield db


@pytest_asyncio.fixture
async def proxied_client(
    settings: Settings, proxy: DatabaseProxy, response_checker: ResponseChecker
) -> AsyncIterator[tuple[Any, httpx.AsyncClient]]:
    """The app with its lifespan running through the proxy, and a checking client."""
    application = create_app(settings, database_url=proxy.url)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application, raise_app_exceptions=False)
        hooks = {"response": [response_checker.check_response]}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://testserver", event_hooks=hooks
        ) as c:
            yield application, c
        await proxy.start()  # lets the lifespan close its connections cleanly


async def test_every_kind_of_route_answers_503_with_retry_after_while_database_is_away(
    proxy: DatabaseProxy, proxied_client: tuple[Any, httpx.AsyncClient]
) -> None:
    app, client = proxied_client
    world = World(app, client)
    agency_creds = await world.credentials("agency")
    agency = await party(world, "agency")
    platform_name = f"p-{uuid.uuid4().hex[:8]}"
    platform = await party(world, "platform", platform=platform_name)
    observer = await party(world, "observer")
    created = await client.post("/v1/flags", json=flag_body(platform_name), headers=agency.headers)
    assert created.status_code == 201, created.text
    token_form = {
        "grant_type": "client_credentials",
        "client_id": agency_creds.client_id,
        "client_secret": agency_creds.client_secret,
    }
    calls = [
        ("POST", "/oauth/token", {"data": token_form}),
        ("POST", "/v1/flags", {"json": flag_body(platform_name), "headers": agency.headers}),
        (
            "POST",
            "/v1/flags/batch",
            {"json": {"flags": [flag_body(platform_name)]}, "headers": agency.headers},
        ),
        ("GET", "/v1/flags", {"headers": agency.headers}),
        ("GET", "/v1/feed", {"headers": platform.headers}),
        ("GET", "/v1/stats/outcomes", {"headers": observer.headers}),
        ("GET", "/transparency", {}),
        ("GET", "/transparency.json", {}),
    ]

    await proxy.cut()
    answered_503 = 0
    # Twice: first on the pool's broken connections, then on refused new ones.
    for _ in range(2):
        for method, path, kwargs in calls:
            resp = await client.request(method, path, **kwargs)
            assert_problem(resp, 503)
            assert resp.headers["retry-after"].isdigit(), (path, resp.headers)
            answered_503 += 1
    assert answered_503 == 2 * len(calls)

    await proxy.start()
    resp = await client.get("/v1/flags", headers=agency.headers)
    assert resp.status_code == 200, resp.text
    resp = await client.post("/v1/flags", json=flag_body(platform_name), headers=agency.headers)
    assert resp.status_code == 201, resp.text


@pytest.mark.parametrize("path", ["/healthz"])
async def test_routes_without_the_database_still_answer_while_it_is_away(
    proxy: DatabaseProxy, proxied_client: tuple[Any, httpx.AsyncClient], path: str
) -> None:
    _, client = proxied_client
    await proxy.cut()
    assert (await client.get(path)).status_code == 200
