"""Issuing and verifying access tokens (ES256 JWTs, RFC 9068-shaped).

Verification follows RFC 8725: the algorithm list is fixed (ES256 only, so `alg=none` and
HS256-with-our-public-key confusion fail), the key is picked by `kid` from our own ring
only (never from the token), and `exp`, `iat`, `aud`, `iss` and `sub` are required.
"""

from __future__ import annotations

import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from jose import jwt
from jose.exceptions import JOSEError

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
        headers={"kid": ring.signing_kid, "typ": "at+jwt"},
    )


_OPTIONS = {
    "require_exp": True,
    "require_iat": True,
    "require_aud": True,
    "require_iss": True,
    "require_sub": True,
    "leeway": 0,
}


class TokenVerifier:
    """Verifies tokens against a key ring, remembering recent successes until they expire.

    The cache maps the exact token string to its verified claims, so it never accepts
    anything that was not verified; `exp` is re-checked on every hit. Revocation is checked
    separately on every request.
    """

    def __init__(
        self,
        ring: KeyRing,
        *,
        issuer: str,
        audience: str,
        reload: Callable[[], KeyRing] | None = None,
        reload_interval: float = 5.0,
        cache_size: int = 10_000,
    ):
        self.ring = ring
        self.issuer = issuer
        self.audience = audience
        self.cache_size = cache_size
        self._reload = reload
        self._reload_interval = reload_interval
        self._last_reload = time.monotonic()
        self._cache: OrderedDict[str, TokenClaims] = OrderedDict()

    def replace_ring(self, ring: KeyRing) -> None:
        """Swap in a reloaded key ring; cached tokens of removed keys are forgotten."""
        if set(ring.verifying) != set(self.ring.verifying):
            self._cache.clear()
        self.ring = ring

    def reload_ring(self, *, force: bool = False) -> bool:
        """Re-read the keys (at most once per reload_interval unless forced).

        Called when a token names a kid we do not know (another process may have rotated)
        and periodically, so that rotation needs no restart. Returns True if reloaded.
        """
        now = time.monotonic()
        if self._reload is None or (not force and now - self._last_reload < self._reload_interval):
            return False
        self._last_reload = now
        self.replace_ring(self._reload())
        return True

    def verify(self, token: str) -> TokenClaims:
        """Return the claims of a valid token or raise Unauthorized."""
        cached = self._cache.get(token)
        now = time.time()
        if cached is not None:
            if cached.expires_at > now:
                self._cache.move_to_end(token)
                return cached
            del self._cache[token]
        claims = self._verify_uncached(token)
        self._cache[token] = claims
        if len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return claims

    def _verify_uncached(self, token: str) -> TokenClaims:
        if len(token) > 4096:
            raise Unauthorized("Token is too long")
        try:
            header = jwt.get_unverified_header(token)
        except JOSEError as exc:
            raise Unauthorized("Malformed token") from exc
        except Exception as exc:  # malformed base64/JSON can surface as other errors
            raise Unauthorized("Malformed token") from exc
        if header.get("alg") != ALGORITHM:
            raise Unauthorized("Token algorithm not accepted")
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise Unauthorized("Token has no key id")
        key = self.ring.verifier(kid)
        if key is None and self.reload_ring():
            key = self.ring.verifier(kid)
        if key is None:
            raise Unauthorized("Token signed by an unknown key")
        try:
            raw = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                options=_OPTIONS,
            )
        except JOSEError as exc:
            raise Unauthorized(f"Token rejected: {exc}") from exc
        except Exception as exc:
            raise Unauthorized("Token rejected") from exc
        return _claims_from(raw)


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
