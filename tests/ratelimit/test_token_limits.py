"""`/oauth/token` under attack: back-off per client id, a budget per source address, and a
bound on concurrent secret hashing. Every test runs with the production defaults."""

from __future__ import annotations

import asyncio
import threading

from app.auth import endpoints as token_endpoints
from app.auth import secrets
from tests.conftest import assert_problem
from tests.ratelimit.conftest import DEFAULTS, http_client

FREE = DEFAULTS["rate_token_free_failures"]


def form(creds, secret: str | None = None) -> dict[str, str]:
    return {
        "grant_type": "client_credentials",
        "client_id": creds.client_id,
        "client_secret": secret if secret is not None else creds.client_secret,
    }


async def fail_until_refused(client, creds) -> list[int]:
    """Send wrong secrets until one is refused with 429; every status seen."""
    statuses = []
    for _ in range(FREE + 2):
        resp = await client.post("/oauth/token", data=form(creds, "fbs_wrong"))
        statuses.append(resp.status_code)
        if resp.status_code == 429:
            break
    return statuses


async def test_wrong_secrets_back_off_one_client_and_not_the_others(world, client, clock):
    victim = await world.credentials("agency")
    bystander = await world.credentials("agency")

    statuses = await fail_until_refused(client, victim)
    # The free failures are answered 401; the one after them starts the back-off.
    assert statuses == [401] * (FREE + 1) + [429]
    refused = await client.post("/oauth/token", data=form(victim))
    body = assert_problem(refused, 429)
    assert body["type"] == "urn:flagbridge:problem:rate-limited"
    assert int(refused.headers["Retry-After"]) >= 1

    # Another client id, from the same address, is not locked out.
    resp = await client.post("/oauth/token", data=form(bystander))
    assert resp.status_code == 200, resp.text


async def test_back_off_grows_and_ends(world, client, clock):
    creds = await world.credentials("platform")
    await fail_until_refused(client, creds)
    waits = []
    for _ in range(3):
        refused = await client.post("/oauth/token", data=form(creds, "fbs_wrong"))
        waits.append(int(refused.headers["Retry-After"]))
        clock.advance(waits[-1])
        # Back-off over: the next failure is counted and doubles the wait.
        assert (await client.post("/oauth/token", data=form(creds, "fbs_wrong"))).status_code == 401
    assert waits[0] < waits[1] < waits[2], waits
    assert waits[2] <= DEFAULTS["rate_token_backoff_max_seconds"]

    refused = await client.post("/oauth/token", data=form(creds, "fbs_wrong"))
    clock.advance(int(refused.headers["Retry-After"]))
    assert (await client.post("/oauth/token", data=form(creds))).status_code == 200
    # The success forgave the failures: wrong secrets start from the free ones again.
    assert (await client.post("/oauth/token", data=form(creds, "fbs_wrong"))).status_code == 401
    assert (await client.post("/oauth/token", data=form(creds))).status_code == 200


async def test_throttled_unknown_client_ids_cost_no_hashing(world, client, clock, monkeypatch):
    verified = []
    real_verify = token_endpoints.verify_secret

    async def counting(secret_hash, secret):
        verified.append(secret_hash)
        return await real_verify(secret_hash, secret)

    monkeypatch.setattr(token_endpoints, "verify_secret", counting)
    unknown = type("Unknown", (), {"client_id": "no-such-client"})()
    statuses = [
        (await client.post("/oauth/token", data=form(unknown, "guess"))).status_code
        for _ in range(FREE + 10)
    ]
    assert statuses.count(401) == FREE + 1
    assert statuses.count(429) == 9
    # Each 401 ran one (dummy) hash so timing hides whether an id exists; no 429 ran any.
    assert len(verified) == FREE + 1


async def test_budget_per_source_address(app, world, client, clock, response_checker):
    quota = DEFAULTS["rate_token_per_address_per_minute"]
    creds = await world.credentials("observer")  # the operator's token counted once already
    async with http_client(app, response_checker, "203.0.113.7") as attacker:
        statuses = [
            (await attacker.post("/oauth/token", data={"client_id": "x"})).status_code
            for _ in range(quota + 5)
        ]
        assert statuses == [400] * quota + [429] * 5
        refused = await attacker.post("/oauth/token", data=form(creds))
        assert_problem(refused, 429)
        assert refused.headers["RateLimit-Policy"] == f'"token-address";q={quota};w=60'
        assert refused.headers["RateLimit"] == '"token-address";r=0;t=40'
        assert refused.headers["Retry-After"] == "40"

        # Other addresses are untouched, and see their own budget.
        resp = await client.post("/oauth/token", data=form(creds))
        assert resp.status_code == 200
        assert resp.headers["RateLimit-Policy"] == f'"token-address";q={quota};w=60'

        clock.advance(40)  # the next minute
        assert (await attacker.post("/oauth/token", data=form(creds))).status_code == 200


async def test_hashing_beyond_the_queue_is_refused_at_once(world, client, clock, monkeypatch):
    creds = await world.credentials("agency")
    secrets.gate.configure(concurrency=1, queue=0)
    release = threading.Event()
    started = threading.Event()
    real = secrets._hasher

    class SlowHasher:
        def verify(self, hashed, secret):
            started.set()
            release.wait(10)
            return real.verify(hashed, secret)

    monkeypatch.setattr(secrets, "_hasher", SlowHasher())
    first = asyncio.create_task(client.post("/oauth/token", data=form(creds)))
    assert await asyncio.to_thread(started.wait, 10)
    busy = await client.post("/oauth/token", data=form(creds))
    assert_problem(busy, 429)
    assert busy.headers["Retry-After"] == "1"
    release.set()
    assert (await first).status_code == 200
