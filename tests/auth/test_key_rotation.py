"""Signing-key rotation across a running app and several workers, and client revocation.

Each test rotates keys in its own folder (never the session's shared one) and runs one or
two full apps against the test's database, the way several uvicorn workers share a key
folder and a PostgreSQL in production.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from jose import jwt

from app.auth.keys import generate_key, load_from_dir, retire_key
from app.auth.tokens import TokenVerifier, issue_token
from app.config import Settings
from app.errors import Unauthorized
from app.main import create_app
from tests.conftest import World, assert_problem

ROUTE = "/v1/admin/organizations"


@asynccontextmanager
async def running(settings: Settings, database_url: str) -> AsyncIterator[World]:
    """A started app (one "worker") and a World bound to it."""
    app = create_app(settings, database_url=database_url)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield World(app, c)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def kid_of(token: str) -> str:
    return str(jwt.get_unverified_header(token)["kid"])


async def status(world: World, token: str) -> int:
    """Status of an authenticated call with token on that worker."""
    return (await world.client.get(ROUTE, headers=bearer(token))).status_code


async def jwks_kids(world: World) -> set[str]:
    resp = await world.client.get("/.well-known/jwks.json")
    assert resp.status_code == 200
    return {k["kid"] for k in resp.json()["keys"]}


async def eventually(check: Callable[[], Awaitable[bool]], *, within: float = 5.0) -> bool:
    """Poll check until it is true or the deadline passes."""
    deadline = time.monotonic() + within
    while True:
        if await check():
            return True
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)


@pytest.fixture
def rotating(settings: Settings, tmp_path: Path) -> Settings:
    """Settings whose key folder belongs to this test alone."""
    return settings.model_copy(update={"keys_dir": tmp_path / "rotating-keys"})


async def test_previous_key_verifies_until_forgotten_while_new_tokens_use_the_new_key(
    rotating: Settings, database_url: str
):
    keys = rotating.resolved_keys_dir
    async with running(rotating, database_url) as world:
        verifier = world.app.state.verifier
        operator = await world.operator()
        used, unused = await world.token(operator), await world.token(operator)
        old_kid = kid_of(used)
        assert kid_of(unused) == old_kid == verifier.ring.signing_kid
        assert await status(world, used) == 200  # now in the verifier's cache

        new_kid = generate_key(keys)
        assert new_kid != old_kid
        assert (keys / "active").read_text().strip() == new_kid
        assert verifier.reload_ring(force=True)

        fresh = await world.token(operator)
        assert kid_of(fresh) == new_kid
        assert await jwks_kids(world) == {old_kid, new_kid}
        # `unused` was never verified before, so this is the old key verifying, not the cache.
        assert [await status(world, t) for t in (used, unused, fresh)] == [200, 200, 200]

        # Retired: no longer signs, still verifies.
        retire_key(keys, old_kid)
        assert (keys / f"{old_kid}.pub.pem").exists()
        assert not (keys / f"{old_kid}.pem").exists()
        verifier.reload_ring(force=True)
        assert await jwks_kids(world) == {old_kid, new_kid}
        assert [await status(world, t) for t in (used, unused, fresh)] == [200, 200, 200]

        # Forgotten: its tokens stop working at once, cached or not.
        retire_key(keys, old_kid, forget=True)
        verifier.reload_ring(force=True)
        assert await jwks_kids(world) == {new_kid}
        for token in (used, unused):
            resp = await world.client.get(ROUTE, headers=bearer(token))
            assert_problem(resp, 401)
            assert resp.headers["www-authenticate"].startswith("Bearer")
        assert await status(world, fresh) == 200


async def test_another_worker_accepts_tokens_signed_after_a_rotation_it_has_not_seen(
    rotating: Settings, database_url: str
):
    keys = rotating.resolved_keys_dir
    async with (
        running(rotating, database_url) as first,
        running(rotating.model_copy(), database_url) as second,
    ):
        operator = await first.operator()
        before = await first.token(operator)
        old_kid = kid_of(before)
        assert await status(second, before) == 200

        new_kid = generate_key(keys)
        first.app.state.verifier.reload_ring(force=True)
        after = await first.token(operator)
        assert kid_of(after) == new_kid
        assert second.app.state.verifier.ring.verifier(new_kid) is None

        # The second worker re-reads the folder when it meets the unknown kid. Reloads on
        # unknown kids are throttled (reload_interval, 5 s) so junk kids cannot make every
        # request read the disk; age the last reload as if this worker had been up a while.
        second.app.state.verifier._last_reload -= 60
        assert await status(second, after) == 200
        assert second.app.state.verifier.ring.signing_kid == new_kid
        assert kid_of(await second.token(operator)) == new_kid
        assert await status(second, before) == 200
        assert await jwks_kids(second) == {old_kid, new_kid}


async def test_unknown_kids_reload_the_keys_at_most_once_per_interval(
    rotating: Settings, database_url: str
):
    async with running(rotating, database_url) as world:
        verifier = world.app.state.verifier
        verifier._last_reload -= 60
        claims = jwt.get_unverified_claims(await world.token(await world.operator()))

        async def try_unknown_kid() -> None:
            forged = jwt.encode(
                claims,
                verifier.ring.signing_key,
                algorithm="ES256",
                headers={"kid": "nope", "typ": "at+jwt"},
            )
            assert_problem(await world.client.get(ROUTE, headers=bearer(forged)), 401)

        loaded_at = verifier.ring.loaded_at
        await try_unknown_kid()
        reloaded_at = verifier.ring.loaded_at
        assert reloaded_at > loaded_at  # the first unknown kid re-read the folder...
        for _ in range(5):
            await try_unknown_kid()
        assert verifier.ring.loaded_at == reloaded_at  # ...the next ones did not


async def test_a_worker_that_just_loaded_its_keys_accepts_a_peers_new_kid(
    rotating: Settings, database_url: str
):
    keys = rotating.resolved_keys_dir
    async with (
        running(rotating, database_url) as first,
        running(rotating.model_copy(), database_url) as second,
    ):
        operator = await first.operator()
        generate_key(keys)
        first.app.state.verifier.reload_ring(force=True)
        assert await status(second, await first.token(operator)) == 200


def test_a_token_verified_while_its_key_is_being_forgotten_is_not_cached(tmp_path: Path):
    keys = tmp_path / "keys"
    ring = load_from_dir(keys)
    old_kid = ring.signing_kid
    verifier = TokenVerifier(
        ring, issuer="iss", audience="aud", reload=lambda: load_from_dir(keys), cache_size=10
    )
    token = issue_token(
        ring=ring,
        issuer="iss",
        audience="aud",
        ttl_seconds=3600,
        client_id=uuid.uuid4(),
        org_id=uuid.uuid4(),
        org_kind="operator",
        country=None,
        platform=None,
        scopes=["admin"],
    )
    generate_key(keys)
    retire_key(keys, old_kid, forget=True)

    # Interleave as the key-reload thread can: the ring is swapped (and the cache cleared)
    # after the signature was checked with the old key but before the result is cached.
    verify_uncached = verifier._verify_uncached

    def racing(tok: str, ring: Any) -> Any:
        claims = verify_uncached(tok, ring)
        verifier.reload_ring(force=True)
        return claims

    verifier._verify_uncached = racing  # type: ignore[method-assign]
    verifier.verify(token)  # in flight during the reload: allowed to succeed
    verifier._verify_uncached = verify_uncached  # type: ignore[method-assign]
    assert verifier.ring.verifier(old_kid) is None
    with pytest.raises(Unauthorized):
        verifier.verify(token)


async def test_revoking_a_client_rejects_its_token_at_once_and_on_other_workers(
    settings: Settings, database_url: str
):
    async with (
        running(settings, database_url) as first,
        running(settings.model_copy(), database_url) as second,
    ):
        admin = await first.admin_headers()
        victim = await first.credentials("operator")
        token = await first.token(victim)
        untouched = await first.token(await first.operator())
        # Verified (and cached) on both workers before the revocation.
        assert await status(first, token) == 200
        assert await status(second, token) == 200

        resp = await first.client.post(
            f"/v1/admin/clients/{victim.client_id}/revoke", headers=admin
        )
        assert resp.status_code == 200, resp.text

        resp = await first.client.get(ROUTE, headers=bearer(token))
        assert_problem(resp, 401)
        assert resp.headers["www-authenticate"].startswith("Bearer")

        # The other worker learns it through NOTIFY: its listener is up (so no per-request
        # database fallback) and its periodic refresh is an hour away.
        assert second.app.state.listener.connected
        assert settings.revocation_refresh_seconds >= 3600

        async def rejected_on_second() -> bool:
            return await status(second, token) == 401

        assert await eventually(rejected_on_second, within=5.0)
        assert_problem(await second.client.get(ROUTE, headers=bearer(token)), 401)
        assert await status(first, untouched) == 200
        assert await status(second, untouched) == 200


class _GatedEngine:
    """Wraps an engine so a query's rows are handed back only when `release` is set.

    Stands in for a slow revocation-list refresh: the rows are read (a snapshot) at once,
    then the caller waits, as it would for a result still on its way from the server.
    """

    def __init__(self, engine: Any, queried: asyncio.Event, release: asyncio.Event) -> None:
        self._engine, self._queried, self._release = engine, queried, release

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[Any]:
        async with self._engine.connect() as conn:
            gate = self

            class _Conn:
                async def execute(self, *args: Any, **kwargs: Any) -> list[Any]:
                    rows = (await conn.execute(*args, **kwargs)).all()
                    gate._queried.set()
                    await gate._release.wait()
                    return rows

            yield _Conn()


async def test_a_revocation_during_a_refresh_of_the_revoked_set_is_not_lost(
    app, world, settings, database_url
):
    victim = await world.credentials("operator")
    token = await world.token(victim)
    assert await status(world, token) == 200
    revocations = app.state.revocations
    engine = revocations.engine
    queried, release = asyncio.Event(), asyncio.Event()
    revocations.engine = _GatedEngine(engine, queried, release)
    try:
        async with running(settings.model_copy(), database_url) as other_worker:
            refresh = asyncio.create_task(revocations.reload())  # the periodic refresh
            await asyncio.wait_for(queried.wait(), 5)
            # Revoked on another worker: this one hears of it through NOTIFY only.
            revoke = f"/v1/admin/clients/{victim.client_id}/revoke"
            resp = await other_worker.client.post(revoke, headers=await world.admin_headers())
            assert resp.status_code == 200, resp.text

            async def rejected() -> bool:
                return await status(world, token) == 401

            assert await eventually(rejected)
            release.set()
            await refresh
    finally:
        revocations.engine = engine
    assert await status(world, token) == 401
