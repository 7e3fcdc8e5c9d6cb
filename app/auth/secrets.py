"""Client secrets: generated with enough entropy, stored only as argon2id hashes."""

from __future__ import annotations

import secrets

import anyio.to_thread
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

# Secrets are 256 random bits, so the hash guards against a leaked table rather than weak
# secrets; OWASP's minimum argon2id profile keeps the token endpoint cheap.
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
# A real hash of an unknowable secret, verified for unknown clients so timing does not
# reveal which client ids exist.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(32))


def new_secret() -> str:
    """A fresh client secret (shown to the caller once)."""
    return "fbs_" + secrets.token_urlsafe(32)


async def hash_secret(secret: str) -> str:
    """Hash a secret in a worker thread (argon2 is deliberately CPU- and memory-heavy)."""
    return await anyio.to_thread.run_sync(_hasher.hash, secret)


async def verify_secret(secret_hash: str | None, secret: str) -> bool:
    """Check a secret against its hash (or a dummy hash), off the event loop."""

    def _verify() -> bool:
        try:
            return _hasher.verify(secret_hash or _DUMMY_HASH, secret) and secret_hash is not None
        except (VerificationError, InvalidHashError):
            return False

    return await anyio.to_thread.run_sync(_verify)
