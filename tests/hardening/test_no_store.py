"""`Cache-Control: no-store` on every response that carries a secret or a token.

The routes are found in the OpenAPI document (any response schema with a secret or token
field), not listed by hand: a new secret-bearing route fails
`test_every_secret_bearing_route_is_called_here` until it is called below, and then the
header test until it sends the headers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from app.config import Settings
from app.main import create_app
from tests.conftest import World, party

SECRET_FIELDS = {"client_secret", "access_token", "secret"}
Call = Callable[[World, httpx.AsyncClient], Awaitable[list[httpx.Response]]]


def _property_names(schema: Any, components: dict[str, Any], seen: set[str]) -> set[str]:
    """Every property name reachable from schema, following $refs (each once)."""
    if isinstance(schema, list):
        return set().union(*(_property_names(s, components, seen) for s in schema))
    if not isinstance(schema, dict):
        return set()
    names: set[str] = set(schema.get("properties", {}))
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref not in seen:
        seen.add(ref)
        names |= _property_names(components[ref.rsplit("/", 1)[-1]], components, seen)
    for value in schema.values():
        names |= _property_names(value, components, seen)
    return names


def secret_bearing_operations(openapi: dict[str, Any]) -> set[tuple[str, str]]:
    """(METHOD, path) of every operation whose responses can carry a secret or token."""
    components = openapi["components"]["schemas"]
    found = set()
    for path, operations in openapi["paths"].items():
        for method, operation in operations.items():
            for answer in operation.get("responses", {}).values():
                names = _property_names(answer.get("content", {}), components, set())
                if names & SECRET_FIELDS:
                    found.add((method.upper(), path))
    return found


async def _token(world: World, client: httpx.AsyncClient) -> list[httpx.Response]:
    creds = await world.credentials("observer")
    form = {"grant_type": "client_credentials", "client_id": creds.client_id}
    return [
        await client.post("/oauth/token", data={**form, "client_secret": creds.client_secret}),
        await client.post("/oauth/token", data={**form, "client_secret": "wrong"}),
        await client.post("/oauth/token", data={**form, "grant_type": "password"}),
        await client.post("/oauth/token", json={"grant_type": "client_credentials"}),
    ]


async def _client(world: World, client: httpx.AsyncClient) -> list[httpx.Response]:
    org = await world.org("agency")
    headers = {**await world.admin_headers(), "Idempotency-Key": "no-store"}
    body = {"organization_id": org["id"], "name": "shown once"}
    # The replay carries the secret again, so it is marked too.
    return [await client.post("/v1/admin/clients", json=body, headers=headers) for _ in "ab"]


async def _set_webhook(world: World, client: httpx.AsyncClient) -> list[httpx.Response]:
    platform = await party(world, "platform")
    url = {"url": "http://127.0.0.1:9/hook"}
    return [await client.put("/v1/webhook", json=url, headers=platform.headers)]


async def _rotate_webhook_secret(world: World, client: httpx.AsyncClient) -> list[httpx.Response]:
    platform = await party(world, "platform")
    url = {"url": "http://127.0.0.1:9/hook"}
    assert (await client.put("/v1/webhook", json=url, headers=platform.headers)).status_code == 200
    return [await client.post("/v1/webhook/rotate-secret", headers=platform.headers)]


CALLS: dict[tuple[str, str], Call] = {
    ("POST", "/oauth/token"): _token,
    ("POST", "/v1/admin/clients"): _client,
    ("PUT", "/v1/webhook"): _set_webhook,
    ("POST", "/v1/webhook/rotate-secret"): _rotate_webhook_secret,
}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Webhooks may point at loopback here (nothing is delivered in these tests)."""
    return settings.model_copy(update={"webhook_allow_private": True})


def test_every_secret_bearing_route_is_called_here() -> None:
    assert secret_bearing_operations(create_app().openapi()) == set(CALLS)


@pytest.mark.parametrize("operation", sorted(CALLS), ids=" ".join)
async def test_secret_bearing_responses_are_not_stored(world, client, operation) -> None:
    responses = await CALLS[operation](world, client)
    assert any(r.status_code < 300 and SECRET_FIELDS & set(r.json()) for r in responses)
    for resp in responses:
        assert resp.headers.get("cache-control") == "no-store", (resp.status_code, resp.text)
        assert resp.headers.get("pragma") == "no-cache", (resp.status_code, resp.text)
