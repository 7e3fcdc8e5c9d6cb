"""Typed errors and their RFC 9457 problem+json rendering.

Raise a subclass of AppError anywhere; one handler turns it into a response. Validation
errors from FastAPI, Starlette's HTTP errors (unknown route, wrong method) and anything
unexpected are rendered the same way, never with internals.
"""

from __future__ import annotations

import errno
import logging
import traceback
import uuid
from collections.abc import Sequence
from datetime import datetime
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.kit.schemas import Omitted
from app.vocabulary import FlagStatus, OutcomeAction

log = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:flagbridge:problem:"
PROBLEM_SCHEMA_REF = "#/components/schemas/Problem"


class AppError(Exception):
    """An error the client can act on; rendered as problem+json with its status."""

    status: int = 500
    slug: str = "internal"
    title: str = "Internal Server Error"

    def __init_subclass__(
        cls, *, status: int | None = None, slug: str = "", title: str = "", **kwargs: Any
    ) -> None:
        # Each kind of error is declared by its class line: `class X(AppError, status=...)`.
        super().__init_subclass__(**kwargs)
        if status is not None:
            cls.status, cls.slug, cls.title = status, slug, title

    def __init__(
        self,
        detail: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.headers = headers or {}
        self.extra = extra

    def to_problem(self) -> dict[str, Any]:
        """The problem document (without request id)."""
        body: dict[str, Any] = {
            "type": TYPE_PREFIX + self.slug,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        body.update(self.extra)
        return body


class BadRequest(AppError, status=400, slug="bad-request", title="Bad Request"):
    """The request is malformed in a way validation does not cover."""


class Unauthorized(AppError, status=401, slug="unauthorized", title="Unauthorized"):
    """No token, or a token that does not verify."""

    def __init__(
        self,
        detail: str | None = None,
        *,
        challenge: str = 'Bearer realm="flagbridge", error="invalid_token"',
        **extra: Any,
    ) -> None:
        super().__init__(
            detail or "A valid bearer token is required",
            headers={"WWW-Authenticate": challenge},
            **extra,
        )


class Forbidden(AppError, status=403, slug="forbidden", title="Forbidden"):
    """Authenticated, but the token lacks what the route needs."""


class NotFound(AppError, status=404, slug="not-found", title="Not Found"):
    """Absent, or belonging to someone else (the two are never told apart)."""


class MethodNotAllowed(AppError, status=405, slug="method-not-allowed", title="Method Not Allowed"):
    """The route exists but not with this method."""


class Conflict(AppError, status=409, slug="conflict", title="Conflict"):
    """The request conflicts with the current state of the resource."""


class Gone(AppError, status=410, slug="gone", title="Gone"):
    """The thing asked for existed but is past its retention."""


class PayloadTooLarge(AppError, status=413, slug="payload-too-large", title="Payload Too Large"):
    """The request body is over the configured limit."""


class Unprocessable(AppError, status=422, slug="validation", title="Unprocessable Content"):
    """Well-formed but invalid input; `errors` names each failing field."""

    def __init__(self, detail: str, *, errors: list[dict[str, str]] | None = None) -> None:
        super().__init__(detail, errors=errors or [])


def field_error(field: str, message: str) -> Unprocessable:
    """A 422 naming one failing field: `Invalid input: <field>` with `errors` listing it."""
    return Unprocessable(f"Invalid input: {field}", errors=[{"field": field, "message": message}])


class RateLimited(AppError, status=429, slug="rate-limited", title="Too Many Requests"):
    """Too many requests; Retry-After says when to come back."""


class ServiceUnavailable(AppError, status=503, slug="unavailable", title="Service Unavailable"):
    """A dependency (usually the database) is not available."""


RETRY_AFTER_SECONDS = 5
"""What a 503 asks clients to wait: about one PostgreSQL restart or fail-over."""

# 57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now; class 08 is
# "connection exception". 40001 serialization_failure and 40P01 deadlock_detected: the
# transaction was rolled back and the same request succeeds when retried, so it is 503 with
# Retry-After too. Other classes (a constraint, a bug) stay 500: retrying won't help.
_UNAVAILABLE_SQLSTATES = frozenset({"57P01", "57P02", "57P03", "40001", "40P01"})
_NETWORK_ERRNOS = frozenset(
    {
        errno.ECONNREFUSED,
        errno.ECONNRESET,
        errno.ECONNABORTED,
        errno.EHOSTUNREACH,
        errno.ENETUNREACH,
        errno.ETIMEDOUT,
        errno.EPIPE,
        errno.ENOENT,  # a Unix socket that is gone while the server restarts
    }
)


def database_unavailable(exc: BaseException) -> bool:
    """Whether exc, or anything it wraps, says the database cannot be reached right now."""
    import asyncpg
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        error = pending.pop()
        if error is None or id(error) in seen:
            continue
        seen.add(id(error))
        if isinstance(
            error,
            PoolTimeout
            | ConnectionError
            | asyncpg.ConnectionDoesNotExistError
            | asyncpg.CannotConnectNowError,
        ):
            return True
        if isinstance(error, asyncpg.InterfaceError) and "connection is closed" in str(error):
            return True
        if getattr(error, "connection_invalidated", False) is True:
            return True
        state = getattr(error, "sqlstate", None)
        if isinstance(state, str) and (state.startswith("08") or state in _UNAVAILABLE_SQLSTATES):
            return True
        # Connecting raises bare OSErrors: refused, unreachable, a timeout (errno None),
        # or "Multiple exceptions" when every address of the host failed (errno None).
        if isinstance(error, OSError) and (error.errno is None or error.errno in _NETWORK_ERRNOS):
            return True
        pending += [getattr(error, "orig", None), error.__cause__, error.__context__]
    return False


def unavailable() -> ServiceUnavailable:
    """The 503 sent while the database cannot be reached, with Retry-After."""
    return ServiceUnavailable(
        "The database cannot be reached; try again shortly",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def problem_response(
    problem: dict[str, Any], *, headers: dict[str, str] | None = None
) -> JSONResponse:
    """A JSONResponse carrying a problem document."""
    return JSONResponse(
        problem,
        status_code=int(problem["status"]),
        media_type=PROBLEM_MEDIA_TYPE,
        headers=headers,
    )


def generic_problem(status: int, detail: str | None = None) -> dict[str, Any]:
    """A problem document for a bare HTTP status."""
    phrase = HTTPStatus(status).phrase
    slug = phrase.lower().replace(" ", "-").replace("'", "")
    return {
        "type": TYPE_PREFIX + slug,
        "title": phrase,
        "status": status,
        "detail": detail or phrase,
    }


def _field_name(loc: tuple[Any, ...] | list[Any]) -> str:
    """`("body", "account", "handle")` -> `account.handle`; list indexes stay numeric."""
    parts = list(loc)
    if parts and parts[0] in ("body", "query", "path", "header", "cookie"):
        source = parts.pop(0)
        if not parts:
            return str(source)
    return ".".join(str(p) for p in parts) or "body"


def validation_errors(errors: Sequence[Any]) -> list[dict[str, str]]:
    """Pydantic/FastAPI error dicts as `[{"field", "message"}]` (no echoed input)."""
    out = []
    for err in errors:
        out.append({"field": _field_name(err.get("loc", ())), "message": str(err.get("msg", ""))})
    return out


def unprocessable(errors: Sequence[Any]) -> Unprocessable:
    """Pydantic/FastAPI validation errors as our 422, naming every failing field."""
    errs = validation_errors(errors)
    fields = ", ".join(sorted({e["field"] for e in errs})) or "body"
    return Unprocessable(f"Invalid input: {fields}", errors=errs)


def invalid(exc: ValidationError) -> Unprocessable:
    """A pydantic ValidationError as our 422."""
    return unprocessable(exc.errors())


async def _app_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    return problem_response(exc.to_problem(), headers=exc.headers)


async def _validation_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return problem_response(unprocessable(exc.errors()).to_problem())


async def _http_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else None
    if exc.status_code == 404:
        detail = "No such resource"
    problem = generic_problem(exc.status_code, detail)
    return problem_response(problem, headers=dict(exc.headers or {}))


def _sqlstate(exc: BaseException) -> str:
    """The PostgreSQL SQLSTATE behind an asyncpg or SQLAlchemy error, if any."""
    for candidate in (exc, getattr(exc, "orig", None), getattr(exc, "__cause__", None)):
        state = getattr(candidate, "sqlstate", None)
        if isinstance(state, str):
            return state
        orig = getattr(candidate, "__cause__", None)
        state = getattr(orig, "sqlstate", None)
        if isinstance(state, str):
            return state
    return ""


async def _database_error_handler(request: Request, exc: Exception) -> JSONResponse:
    if database_unavailable(exc):
        # Expected while PostgreSQL restarts or fails over: one line, no traceback, and
        # never the statement's parameters (they are the client's data).
        log.warning("database unavailable: %s", type(exc).__name__)
        error = unavailable()
        return problem_response(error.to_problem(), headers=error.headers)
    # Class 22 (data exception: bad encoding, out-of-range values) means the input could
    # not be stored. Validation should have caught it; if it did not, it is still the
    # client's input, so 422 rather than 500. Anything else is a server error.
    if _sqlstate(exc).startswith("22"):
        problem = Unprocessable("Invalid input: a value cannot be stored").to_problem()
        return problem_response(problem)
    log_without_data(log, "database error", exc)
    return problem_response(generic_problem(500, "Internal error"))


def log_without_data(logger: logging.Logger, message: str, exc: BaseException) -> None:
    """Log an error by its kinds, SQLSTATE, constraint and stack frames, never its messages.

    Error messages carry data: asyncpg appends the server's DETAIL ("Key (handle)=(...)
    already exists"), and conversions echo the value they refused. The kinds and frames
    are what debugging needs; the data stays in the database.
    """
    kinds: list[str] = []
    where = ""
    chained: BaseException | None = exc
    while chained is not None and len(kinds) < 5:
        kinds.append(f"{type(chained).__module__}.{type(chained).__qualname__}")
        for name in ("constraint_name", "table_name"):
            value = getattr(chained, name, None)
            if isinstance(value, str) and not where:
                where = f" on {value}"
        chained = chained.__cause__ or chained.__context__
    frames = "".join(traceback.format_tb(exc.__traceback__))
    logger.error(
        "%s: %s (SQLSTATE %s%s)\n%s",
        message,
        " <- ".join(kinds),
        _sqlstate(exc) or "none",
        where,
        frames,
    )


def register_error_handlers(app: FastAPI) -> None:
    """Install the handlers that render every error as problem+json."""
    import asyncpg
    from sqlalchemy.exc import DBAPIError
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    # Every way the database's absence surfaces: server errors, driver errors (a closed
    # connection), SQLAlchemy's wrappers and pool timeout, and OSErrors from connecting.
    for kind in (asyncpg.PostgresError, asyncpg.InterfaceError, DBAPIError, PoolTimeout, OSError):
        app.add_exception_handler(kind, _database_error_handler)
    app.add_exception_handler(AppError, _app_error_handler)
    app.add_exception_handler(RequestValidationError, _validation_handler)
    app.add_exception_handler(StarletteHTTPException, _http_error_handler)


class FieldError(BaseModel):
    """One invalid field of a request."""

    field: str
    message: str


class Problem(BaseModel):
    """An RFC 9457 problem document, with every extension member FlagBridge sends."""

    # Extension members are present only on the problems that carry them.
    type: str
    title: str
    status: int
    detail: str
    errors: list[FieldError] | Omitted = Field(default=None, description="422: each failing field")
    existing_flag_id: uuid.UUID | Omitted = Field(
        default=None, description="409 `duplicate-flag`: your live flag on the same account"
    )
    current_status: FlagStatus | Omitted = Field(
        default=None, description="409 on a flag: the status that refused the change"
    )
    current_action: OutcomeAction | Omitted = Field(
        default=None, description="409 on an outcome: the outcome the flag was closed with"
    )
    window_ended_at: datetime | Omitted = Field(
        default=None, description="409 on a contest: when the outcome's contest window ended"
    )
    existing_report_id: uuid.UUID | Omitted = Field(
        default=None, description="409 on a platform report: the report it overlaps"
    )
    field: str | Omitted = Field(
        default=None, description="409 on an organisation: the field that must be unique"
    )
    retention_days: int | Omitted = Field(
        default=None, description="410 on the feed: how long cursors stay valid"
    )
    limit: int | Omitted = Field(
        default=None, description="409 `hold-limit`, `renewal-limit`: the configured limit"
    )
    active_holds: int | Omitted = Field(
        default=None, description="409 `hold-limit`: your agency's active holds"
    )
    renewals: int | Omitted = Field(
        default=None, description="409 `renewal-limit`: the hold's renewals so far"
    )


_DESCRIPTIONS = {
    400: "Malformed request",
    401: "No token, or a token that does not verify",
    403: "Authenticated, but not allowed",
    404: "Not found, or not yours",
    409: "Conflicts with the current state",
    410: "Past its retention",
    413: "Body too large",
    422: "Invalid input; `errors` names the failing fields",
    429: "Rate limited; see Retry-After",
    503: "Database unavailable",
}


def problem_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries describing problem+json errors for the given statuses."""
    # No `model`: FastAPI would also list application/json, which no error is sent as.
    # The Problem schema is registered in the document once, by app.main.build_openapi.
    out: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        out[code] = {
            "description": _DESCRIPTIONS.get(code, HTTPStatus(code).phrase),
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": PROBLEM_SCHEMA_REF}}},
        }
    return out


AUTH_ERRORS = (401, 403, 422)
