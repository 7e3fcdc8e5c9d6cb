"""Client secrets: generated with enough entropy, stored only as argon2id hashes."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from typing import Literal, TypeVar

import anyio.to_thread
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from app.errors import RateLimited

T = TypeVar("T")

HashProfile = Literal["owasp", "test"]
"""argon2id parameters: OWASP's minimum, or argon2's smallest (test suites only)."""

# Secrets are 256 random bits, so the hash guards against a leaked table rather than weak
# secrets; OWASP's minimum argon2id profile keeps the token endpoint cheap. The test suite
# hashes thousands of fixture secrets, so it may ask for argon2's floor (Settings refuses
# that outside FLAGBRIDGE_ENV=test); a hash names its parameters, so either verifies both.
PROFILES: dict[HashProfile, tuple[int, int]] = {"owasp": (2, 19 * 1024), "test": (1, 8)}
"""Passes and KiB of memory of each profile (one lane)."""


def _hasher_of(profile: HashProfile) -> PasswordHasher:
    time_cost, memory_cost = PROFILES[profile]
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_cost, parallelism=1)


_profile: HashProfile = "owasp"
_hasher = _hasher_of(_profile)
# A real hash of an unknowable secret, verified for unknown clients so timing does not
# reveal which client ids exist.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(32))


def _use_profile(profile: HashProfile) -> None:
    """Hash new secrets (and the dummy) with the profile's parameters from now on."""
    global _profile, _hasher, _DUMMY_HASH
    if profile != _profile:
        _profile, _hasher = profile, _hasher_of(profile)
        _DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(32))


def new_secret() -> str:
    """A fresh client secret (shown to the caller once)."""
    return "fbs_" + secrets.token_urlsafe(32)


class HashGate:
    """At most `concurrency` argon2 computations at once in this process, `queue` waiting.

    Each one takes ~30 ms of a core and 19 MiB; a flood of token requests would otherwise
    pile up in the thread pool and delay everyone's. Past the queue, requests are refused
    at once (429, Retry-After: 1) instead of waiting behind the flood.
    """

    def __init__(self, concurrency: int = 2, queue: int = 16) -> None:
        self.concurrency = concurrency
        self.queue = queue
        self._semaphore: asyncio.Semaphore | None = None
        self._waiting = 0

    def configure(self, *, concurrency: int, queue: int, profile: HashProfile = "owasp") -> None:
        """Set the bounds and the argon2id parameters (from the settings, at start-up)."""
        self.concurrency, self.queue, self._semaphore = concurrency, queue, None
        _use_profile(profile)

    async def run(self, work: Callable[[], T]) -> T:
        """Run one hash in a worker thread once a place is free; 429 if too many wait."""
        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(self.concurrency)
        if self._semaphore.locked() and self._waiting >= self.queue:
            raise RateLimited(
                "Too many token requests are being checked; try again shortly",
                headers={"Retry-After": "1"},
            )
        self._waiting += 1
        try:
            await self._semaphore.acquire()
        finally:
            self._waiting -= 1
        try:
            return await anyio.to_thread.run_sync(work)
        finally:
            self._semaphore.release()


gate = HashGate()
"""The process's one gate: every hash and verification passes through it."""


async def hash_secret(secret: str) -> str:
    """Hash a secret in a worker thread (argon2 is deliberately CPU- and memory-heavy)."""
    return await gate.run(lambda: _hasher.hash(secret))


async def verify_secret(secret_hash: str | None, secret: str) -> bool:
    """Check a secret against its hash (or a dummy hash), off the event loop."""

    def _verify() -> bool:
        try:
            return _hasher.verify(secret_hash or _DUMMY_HASH, secret) and secret_hash is not None
        except (VerificationError, InvalidHashError):
            return False

    return await gate.run(_verify)
