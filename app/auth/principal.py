"""The authenticated caller of a request, and the dependency that demands a scope."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import Request, Security
from fastapi.openapi.models import OAuthFlowClientCredentials, OAuthFlows
from fastapi.security import OAuth2

from app.errors import Forbidden, Unauthorized
from app.observability import client_id_var

# Describes the scheme in OpenAPI; we parse the header ourselves to control the errors.
SCOPE_DESCRIPTIONS = {
    "flags:submit": "Agencies: submit, withdraw and answer questions on flags and holds",
    "flags:read": "Agencies: read their own flags",
    "feed:read": "Read the organisation's event feed and manage its webhook",
    "flags:respond": "Platforms: acknowledge flags, ask questions, report outcomes",
    "stats:read": "Observers: read aggregate statistics",
    "audit:read": "Observers: read and verify the audit log",
    "audit:checkpoints": "Every member: read checkpoints, register a witness key, co-sign",
    "admin": "Operators: manage organisations and clients",
}
oauth2_scheme = OAuth2(
    flows=OAuthFlows(
        clientCredentials=OAuthFlowClientCredentials(
            tokenUrl="/oauth/token", scopes=SCOPE_DESCRIPTIONS
        )
    ),
    scheme_name="oauth2",
    description="OAuth 2.0 client credentials; send the access token as a Bearer token.",
    auto_error=False,
)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the client, its organisation and what it may do."""

    client_id: uuid.UUID
    org_id: uuid.UUID
    kind: str
    country: str | None
    platform: str | None
    scopes: frozenset[str]

    def has(self, scope: str) -> bool:
        """Whether the token carries scope."""
        return scope in self.scopes


async def authenticate(request: Request) -> Principal:
    """Verify the bearer token and revocation; any failure is 401.

    Once per request: the middleware authenticates before the body is read (for the rate
    limit), and the route's dependency reuses that principal from the request's scope.
    """
    known: Principal | None = request.scope.get("flagbridge.principal")
    if known is not None:
        return known
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        # RFC 6750 3.1: no error code when the request carried no credentials at all.
        raise Unauthorized("A bearer token is required", challenge='Bearer realm="flagbridge"')
    state = request.app.state
    claims = await state.verifier.verify_async(token.strip())
    if await state.revocations.is_revoked(claims.client_id):
        raise Unauthorized("This client has been revoked")
    request.scope["flagbridge.client_id"] = str(claims.client_id)
    client_id_var.set(str(claims.client_id))
    principal = Principal(
        client_id=claims.client_id,
        org_id=claims.org_id,
        kind=claims.org_kind,
        country=claims.country,
        platform=claims.platform,
        scopes=claims.scopes,
    )
    request.scope["flagbridge.principal"] = principal
    return principal


async def authorize(request: Request, scope: str) -> Principal:
    """Authenticate and demand one scope, for hot routes that skip dependency injection."""
    principal = await authenticate(request)
    if scope not in principal.scopes:
        raise Forbidden(f"This route needs the scope {scope}")
    return principal


def _scope_dependency(
    scopes: tuple[str, ...], *, every: bool
) -> Callable[..., Awaitable[Principal]]:
    """A dependency that authenticates and demands every one (or any one) of scopes."""

    async def dependency(
        request: Request,
        _doc: str | None = Security(oauth2_scheme, scopes=list(scopes)),
    ) -> Principal:
        principal = await authenticate(request)
        missing = [s for s in scopes if s not in principal.scopes]
        if every and missing:
            raise Forbidden(f"This route needs the scope {' '.join(missing)}")
        if not every and len(missing) == len(scopes):
            raise Forbidden(f"This route needs one of the scopes {' '.join(scopes)}")
        return principal

    prefix = "requires_" if every else "requires_any_"
    dependency.__name__ = prefix + "_".join(s.replace(":", "_") for s in scopes)
    return dependency


def requires(*scopes: str) -> Callable[..., Awaitable[Principal]]:
    """A dependency that authenticates and demands every one of scopes (else 403)."""
    return _scope_dependency(scopes, every=True)


def requires_any(*scopes: str) -> Callable[..., Awaitable[Principal]]:
    """A dependency that authenticates and demands at least one of scopes (else 403)."""
    return _scope_dependency(scopes, every=False)
