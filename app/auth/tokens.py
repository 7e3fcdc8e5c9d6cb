"""Issuing and verifying access tokens (ES256 JWTs, RFC 9068-shaped).

Verification follows RFC 8725: the algorithm list is fixed (ES256 only, so `alg=none` and
HS256-with-our-public-key confusion fail), the key is picked by `kid` from our own ring
only (never from the token), and `exp`, `iat`, `aud`, `iss` and `sub` are required.

A valid signature is not enough: the claims must also fit the policy the service issues by
(`check_policy`), so a token signed with our key but living ten years, or issued in the
future, is refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from jose import jwt

from app.auth.keys import ALGORITHM, KeyRing
from app.auth.scopes import SCOPES_BY_KIND
from app.errors import Unauthorized


@dataclass(frozen=True, slots=True)
class TokenClaims:
    """The verified claims FlagBridge relies on."""

    client_id: uuid.UUID
    org_id: uuid.UUID
    org_kind: str
    country: str | None
    platform: str | None
    scopes: frozenset[str]
    jti: str
    expires_at: int


def issue_token(
    *,
    ring: KeyRing,
    issuer: str,
    audience: str,
    ttl_seconds: int,
    client_id: uuid.UUID,
    org_id: uuid.UUID,
    org_kind: str,
    country: str | None,
    platform: str | None,
    scopes: list[str],
) -> str:
    """Sign an access token for a client with the ring's active key."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": audience,
        "sub": str(client_id),
        "client_id": str(client_id),
        "org": str(org_id),
        "org_kind": org_kind,
        "iat": now,
        "nbf": now,
        "exp": now + ttl_seconds,
        "jti": uuid.uuid4().hex,
        "scope": " ".join(scopes),
    }
    if country:
        claims["country"] = country
    if platform:
        claims["platform"] = platform
    return jwt.encode(
        claims,
        ring.signing_key,
        algorithm=ALGORITHM,
        headers={"kid": ring.signing_kid, "typ": TOKEN_TYPE},
    )


TOKEN_TYPE = "at+jwt"  # noqa: S105 - RFC 9068 media type, not a secret

CLOCK_SKEW_SECONDS = 60
"""How far apart the clocks of the hosts that issue and verify tokens may be."""

_OPTIONS = {
    "require_exp": True,
    "require_iat": True,
    "require_aud": True,
    "require_iss": True,
    "require_sub": True,
    # The leeway only softens `nbf` (another host's clock may be a little ahead);
    # `exp` is checked again below with none, and `iat` by check_policy.
    "leeway": CLOCK_SKEW_SECONDS,
}


def check_policy(raw: dict[str, Any], *, max_lifetime: int, now: float) -> None:
    """Refuse claims the service would never have issued: too long-lived, or from the future."""
    try:
        iat = int(raw["iat"])
        exp = int(raw["exp"])
        nbf = int(raw.get("nbf", iat))
    except (KeyError, ValueError, TypeError) as exc:
        raise Unauthorized("Token is missing required claims") from exc
    if iat > now + CLOCK_SKEW_SECONDS:
        raise Unauthorized("Token issued in the future")
    if exp - iat > max_lifetime + CLOCK_SKEW_SECONDS:
        raise Unauthorized("Token lives longer than this service issues tokens for")
    if nbf > now + CLOCK_SKEW_SECONDS:
        raise Unauthorized("Token not yet valid")


class UnknownKey(Unauthorized):
    """A token names a kid that is not in the ring (perhaps not yet reloaded)."""

    def __init__(self, kid: str) -> None:
        super().__init__("Token signed by an unknown key")
        self.kid = kid


class TokenVerifier:
    """Verifies tokens against a key ring, remembering recent successes until they expire.

    The cache maps the exact token string to its verified claims, so it never accepts
    anything that was not verified; `exp` is re-checked on every hit, and a result is cached
    only if the ring it was verified with is still current. Revocation is checked
    separately on every request. All state changes happen on the event loop; only file
    reading runs in a worker thread.
    """

    def __init__(
        self,
        ring: KeyRing,
        *,
        issuer: str,
        audience: str,
        reload: Callable[[], KeyRing] | None = None,
        source_version: Callable[[], int | None] | None = None,
        reload_interval: float = 5.0,
        cache_size: int = 10_000,
        max_lifetime: int = 86400,
    ):
        self.ring = ring
        self.max_lifetime = max_lifetime
        self.issuer = issuer
        self.audience = audience
        self.cache_size = cache_size
        self._reload = reload
        self._source_version = source_version
        self._loaded_version = source_version() if source_version else None
        self._reload_interval = reload_interval
        self._last_reload = time.monotonic()
        self._cache: OrderedDict[str, TokenClaims] = OrderedDict()

    def replace_ring(self, ring: KeyRing) -> None:
        """Swap in a reloaded key ring; cached tokens of removed keys are forgotten."""
        if set(ring.verifying) != set(self.ring.verifying):
            self._cache.clear()
        self.ring = ring

    def _load_if_due(self, force: bool) -> KeyRing | None:
        """Read the keys if forced, if the folder changed, or if the throttle has lapsed."""
        if self._reload is None:
            return None
        now = time.monotonic()
        version = self._source_version() if self._source_version else None
        changed = version is not None and version != self._loaded_version
        if not force and not changed and now - self._last_reload < self._reload_interval:
            return None
        self._last_reload = now
        ring = self._reload()
        self._loaded_version = version
        return ring

    def reload_ring(self, *, force: bool = False) -> bool:
        """Reload and swap the ring now (on the calling thread). Returns True if reloaded."""
        ring = self._load_if_due(force)
        if ring is None:
            return False
        self.replace_ring(ring)
        return True

    async def refresh(self, *, force: bool = False) -> bool:
        """Reload the ring with file reading in a worker thread; swap it on the loop."""
        ring = await asyncio.to_thread(self._load_if_due, force)
        if ring is None:
            return False
        self.replace_ring(ring)
        return True

    def verify(self, token: str) -> TokenClaims:
        """Claims of a valid token; Unauthorized if invalid, UnknownKey if its kid is new."""
        cached = self._cache.get(token)
        if cached is not None:
            if cached.expires_at > time.time():
                with contextlib.suppress(KeyError):
                    self._cache.move_to_end(token)
                return cached
            self._cache.pop(token, None)
        ring = self.ring
        claims = self._verify_uncached(token, ring)
        if self.ring is ring:
            self._cache[token] = claims
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return claims

    async def verify_async(self, token: str) -> TokenClaims:
        """verify, reloading the keys once (off the loop) when the token's kid is new to us."""
        try:
            return self.verify(token)
        except UnknownKey:
            if await self.refresh():
                with contextlib.suppress(UnknownKey):
                    return self.verify(token)
            raise Unauthorized("Token signed by an unknown key") from None

    def _verify_uncached(self, token: str, ring: KeyRing) -> TokenClaims:
        if len(token) > 4096:
            raise Unauthorized("Token is too long")
        try:
            header = jwt.get_unverified_header(token)
        except Exception as exc:  # malformed base64/JSON surfaces as assorted errors
            raise Unauthorized("Malformed token") from exc
        if header.get("alg") != ALGORITHM:
            raise Unauthorized("Token algorithm not accepted")
        if header.get("typ") != TOKEN_TYPE:
            raise Unauthorized("Not an access token")
        if "crit" in header:
            # RFC 7515 4.1.11: we understand no extensions, so any critical one is fatal.
            raise Unauthorized("Token has critical header parameters we do not support")
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise Unauthorized("Token has no key id")
        key = ring.verifier(kid)
        if key is None:
            raise UnknownKey(kid)
        try:
            raw = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                options=_OPTIONS,
            )
        except Exception as exc:
            raise Unauthorized("Token rejected") from exc
        now = time.time()
        check_policy(raw, max_lifetime=self.max_lifetime, now=now)
        claims = _claims_from(raw)
        if claims.expires_at <= now:
            # RFC 7519: the token is invalid from the second of `exp` on.
            raise Unauthorized("Token expired")
        return claims


def _claims_from(raw: dict[str, Any]) -> TokenClaims:
    try:
        client_id = uuid.UUID(str(raw["sub"]))
        org_id = uuid.UUID(str(raw["org"]))
        kind = str(raw["org_kind"])
        scope = raw.get("scope", "")
        exp = int(raw["exp"])
        jti = str(raw["jti"])
    except (KeyError, ValueError, TypeError) as exc:
        raise Unauthorized("Token is missing required claims") from exc
    if kind not in SCOPES_BY_KIND or not isinstance(scope, str):
        raise Unauthorized("Token has invalid claims")
    country = raw.get("country")
    platform = raw.get("platform")
    return TokenClaims(
        client_id=client_id,
        org_id=org_id,
        org_kind=kind,
        country=country if isinstance(country, str) else None,
        platform=platform if isinstance(platform, str) else None,
        scopes=frozenset(scope.split()),
        jti=jti,
        expires_at=exp,
    )
