"""`POST /oauth/token` (client credentials, RFC 6749 §4.4) and the JWKS."""

from __future__ import annotations

import base64
import binascii
import uuid
from typing import Annotated, Any
from urllib.parse import unquote_plus

from fastapi import APIRouter, Form, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from app.auth.schemas import Jwks, KeyHistory
from app.auth.scopes import parse_scope_string
from app.auth.secrets import verify_secret
from app.auth.tokens import issue_token
from app.db import SessionDep
from app.errors import PROBLEM_MEDIA_TYPE, TYPE_PREFIX, problem_responses
from app.kit.no_store import NO_STORE_HEADERS
from app.orgs import repository as orgs_repo

router = APIRouter(tags=["auth"])
OAUTH_ERROR_REF = {"$ref": "#/components/schemas/OAuthError"}


class TokenResponse(BaseModel):
    """An access token (RFC 6749 §5.1)."""

    access_token: str
    token_type: str = "Bearer"  # noqa: S105 - the OAuth token type, not a secret
    expires_in: int
    scope: str


class OAuthError(BaseModel):
    """An RFC 6749 §5.2 error, also shaped as an RFC 9457 problem."""

    type: str
    title: str
    status: int
    detail: str
    error: str
    error_description: str


def _oauth_error(status: int, error: str, description: str, *, basic: bool = False) -> JSONResponse:
    headers = dict(NO_STORE_HEADERS)
    if status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="flagbridge"' if basic else "Bearer"
    body: dict[str, Any] = {
        "type": TYPE_PREFIX + "oauth-" + error.replace("_", "-"),
        "title": "Unauthorized" if status == 401 else "Bad Request",
        "status": status,
        "detail": description,
        "error": error,
        "error_description": description,
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def _basic_credentials(header: str) -> tuple[str, str] | None:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    if not sep:
        return None
    # RFC 6749 §2.3.1: both parts are form-urlencoded before Basic encoding.
    return unquote_plus(user), unquote_plus(password)


_FORM_REQUIRED = (
    "The token request must be form-encoded (Content-Type: application/x-www-form-urlencoded, "
    "RFC 6749 section 4.4.2), not JSON: send grant_type=client_credentials&client_id=...&"
    "client_secret=..."
)
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def _sent_as_anything_but_a_form(request: Request) -> bool:
    """A body was sent with a media type that is not a form (JSON, most often)."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return bool(media_type) and media_type not in _FORM_TYPES


@router.post(
    "/oauth/token",
    response_model=TokenResponse,
    operation_id="issue_token",
    responses={
        400: {
            "model": OAuthError,
            "description": "invalid_request, unsupported_grant_type, invalid_scope",
            "content": {PROBLEM_MEDIA_TYPE: {"schema": OAUTH_ERROR_REF}},
        },
        401: {
            "model": OAuthError,
            "description": "invalid_client",
            "content": {PROBLEM_MEDIA_TYPE: {"schema": OAUTH_ERROR_REF}},
        },
        **problem_responses(422, 429),
    },
)
async def token(
    request: Request,
    session: SessionDep,
    grant_type: Annotated[str | None, Form()] = None,
    client_id: Annotated[str | None, Form()] = None,
    client_secret: Annotated[str | None, Form()] = None,
    scope: Annotated[str | None, Form()] = None,
) -> Any:
    """Exchange client credentials (form fields or HTTP Basic) for an access token.

    Limited per source address (every request) and per client id (failed attempts, then a
    growing back-off): 429 with Retry-After."""
    limiter = request.app.state.rate_limits
    basic = _basic_credentials(request.headers.get("authorization", ""))
    if basic and (client_id or client_secret):
        return _oauth_error(400, "invalid_request", "Use HTTP Basic or form credentials, not both")
    if basic:
        client_id, client_secret = basic
    if any(len(v or "") > 1000 for v in (client_id, client_secret, scope, grant_type)):
        return _oauth_error(400, "invalid_request", "A parameter is too long")
    if grant_type is None and _sent_as_anything_but_a_form(request):
        return _oauth_error(400, "invalid_request", _FORM_REQUIRED)
    if grant_type is None:
        return _oauth_error(400, "invalid_request", "grant_type is required")
    if grant_type != "client_credentials":
        return _oauth_error(400, "unsupported_grant_type", "Only client_credentials is supported")
    if not client_id or not client_secret:
        return _oauth_error(
            401, "invalid_client", "Client authentication failed", basic=bool(basic)
        )
    await limiter.check_backoff(session, client_id)
    try:
        cid = uuid.UUID(client_id)
    except ValueError:
        cid = None
    found = await orgs_repo.get_client_with_org(session, cid) if cid else None
    ok = await verify_secret(found[0].secret_hash if found else None, client_secret)
    if not found or not ok or found[0].revoked_at is not None:
        # Unknown ids count too: an attacker cycling made-up ids backs off the same way.
        await limiter.count_failure(session, client_id)
        return _oauth_error(
            401, "invalid_client", "Client authentication failed", basic=bool(basic)
        )
    await limiter.forget_failures(session, client_id)
    client, org = found
    requested = parse_scope_string(scope)
    granted = [s for s in client.scopes]
    if requested:
        not_granted = [s for s in requested if s not in granted]
        if not_granted:
            return _oauth_error(
                400, "invalid_scope", f"Scope not granted to this client: {' '.join(not_granted)}"
            )
        granted = requested
    settings = request.app.state.settings
    access_token = issue_token(
        ring=request.app.state.verifier.ring,
        issuer=settings.issuer,
        audience=settings.audience,
        ttl_seconds=settings.token_ttl_seconds,
        client_id=client.id,
        org_id=org.id,
        org_kind=org.kind,
        country=org.country,
        platform=org.platform,
        scopes=granted,
    )
    return JSONResponse(
        TokenResponse(
            access_token=access_token,
            expires_in=settings.token_ttl_seconds,
            scope=" ".join(granted),
        ).model_dump(),
        headers=NO_STORE_HEADERS,
    )


@router.get("/.well-known/jwks.json", operation_id="get_jwks", tags=["auth"], response_model=Jwks)
async def jwks(request: Request) -> JSONResponse:
    """Public keys that verify access tokens (and audit checkpoints)."""
    return JSONResponse(
        request.app.state.verifier.ring.jwks, headers={"Cache-Control": "public, max-age=300"}
    )


@router.get(
    "/.well-known/flagbridge-key-history.json",
    operation_id="get_key_history",
    tags=["auth"],
    response_model=KeyHistory,
)
async def key_history(request: Request) -> JSONResponse:
    """Every public key that ever signed here, forgotten ones too: checkpoints and archive
    records stay verifiable after any number of rotations (tokens only use the JWKS)."""
    return JSONResponse(
        request.app.state.verifier.ring.history, headers={"Cache-Control": "public, max-age=300"}
    )
