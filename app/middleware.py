"""The outermost ASGI layer: request ids, body limits, access logs, metrics, last-resort 500s.

Written as plain ASGI (not BaseHTTPMiddleware) because it sits on every request's hot path.
"""

from __future__ import annotations

import inspect
import json
import logging
import os
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.auth.principal import Principal, authenticate
from app.errors import (
    PROBLEM_MEDIA_TYPE,
    AppError,
    MethodNotAllowed,
    PayloadTooLarge,
    database_unavailable,
    generic_problem,
    log_without_data,
    problem_responses,
    unavailable,
)
from app.observability import (
    HTTP_LATENCY,
    HTTP_REQUESTS,
    client_id_var,
    client_ip_var,
    request_id_var,
)
from app.ratelimit.decision import Decision
from app.ratelimit.limiter import Limiter

access_log = logging.getLogger("flagbridge.access")
error_log = logging.getLogger("flagbridge.errors")

_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._:/+=-]{1,128}$")
_BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
_KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

BATCH_ROUTES = frozenset({"/v1/flags/batch", "/v1/outcomes/batch"})
"""The routes that take batches, and so the large body limit (by route template)."""

ANONYMOUS_BODY_ROUTES = frozenset({"/oauth/token"})
"""Routes that take a body without a bearer token; every other one is authenticated first."""


RATE_LIMIT_HEADERS = {
    "Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}},
    "RateLimit-Policy": {
        "description": 'The budget (draft-ietf-httpapi-ratelimit-headers): `"writes";q=600;w=60`',
        "schema": {"type": "string"},
    },
    "RateLimit": {
        "description": 'What is left of it and when it resets: `"writes";r=0;t=12`',
        "schema": {"type": "string"},
    },
}
"""The headers of a 429 (and, but Retry-After, of every answer to a limited route)."""

# Operations that never touch the database (so never answer 503): health and
# the key documents served from the in-memory key ring. /readyz documents its own 503.
_NO_DATABASE = frozenset(
    {
        ("get", "/healthz"),
        ("get", "/.well-known/jwks.json"),
        ("get", "/.well-known/flagbridge-key-history.json"),
    }
)


def document_cross_cutting_statuses(openapi: dict[str, Any]) -> None:
    """List, in every operation, the statuses sent for every route rather than by one route.

    - 413: this layer caps the body of every request of a method that may carry one;
    - 400: FastAPI answers a body it cannot decode (invalid UTF-8, a broken form) with 400;
    - 503: every route that reads or writes the database answers 503 while it is away;
    - 429: every authenticated route counts against its client's budget (app/ratelimit),
      and the token route against its source address's.

    Written once here from the same rules that send them, not in each route's declaration.
    """
    too_large, malformed, away, limited = (problem_responses(c)[c] for c in (413, 400, 503, 429))
    limited = {**limited, "headers": RATE_LIMIT_HEADERS}
    for path, operations in openapi.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            if "security" in operation or path in ANONYMOUS_BODY_ROUTES:
                responses.setdefault("429", limited)
            if method.upper() in _BODY_METHODS:
                responses.setdefault("413", too_large)
            if "requestBody" in operation:
                responses.setdefault("400", malformed)
            if (method, path) not in _NO_DATABASE:
                responses.setdefault("503", away)


def _limiter(scope: Scope) -> Limiter:
    """The app's rate limiter (made by the lifespan; only limited routes reach for it)."""
    limiter: Limiter = scope["app"].state.rate_limits
    return limiter


DirectRoute = Callable[[Request], Awaitable[Response]]
"""A route served straight from this layer: takes the request, returns the response."""


class _BodyTooLarge(Exception):
    pass


async def _serve_direct(route: DirectRoute, scope: Scope, receive: Receive, send: Send) -> None:
    """Run a direct route, rendering what it raises with the app's own exception handlers
    (as Starlette's ExceptionMiddleware would); anything unhandled goes up to the 500."""
    request = Request(scope, receive)
    try:
        response = await route(request)
    except Exception as exc:
        handlers = scope["app"].exception_handlers
        handler = next((handlers[k] for k in type(exc).__mro__ if k in handlers), None)
        if handler is None:
            raise
        rendered = handler(request, exc)
        response = await rendered if inspect.isawaitable(rendered) else rendered
    await response(scope, receive, send)


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None


class _RouteTable:
    """The path templates of the app's operations, to resolve a request before routing.

    Built once from the OpenAPI document (the published list of operations, which routers
    nested by `include_router` also appear in), with Starlette's own path compiler.
    """

    def __init__(self, openapi: dict[str, Any]) -> None:
        self._routes = [
            (compile_path(template)[0], template, frozenset(m.upper() for m in operations))
            for template, operations in openapi.get("paths", {}).items()
        ]
        self._concrete = {t: methods for _, t, methods in self._routes if "{" not in t}
        self.authenticated = {
            (method.upper(), template)
            for template, operations in openapi.get("paths", {}).items()
            for method, operation in operations.items()
            if "security" in operation
        }

    def template(self, method: str, path: str) -> str | None:
        """The template of the operation this method and path reach, if any."""
        if path in self._concrete:
            return path if method in self._concrete[path] else None
        for regex, template, methods in self._routes:
            if method in methods and regex.match(path):
                return template
        return None

    def allowed(self, path: str) -> frozenset[str]:
        """Every documented method of the resource at path (empty if there is none).

        As OpenAPI matches paths, a concrete path wins over a template that also matches it:
        `GET /v1/flags/batch` is a wrong method on the batch route, not a flag id.
        """
        if path in self._concrete:
            return self._concrete[path]
        return frozenset().union(*(m for regex, _, m in self._routes if regex.match(path)))


class RequestContextMiddleware:
    """Give every request an id, cap its body, log it, count it, and never leak a traceback."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        max_batch_body_bytes: int,
        direct_routes: Mapping[tuple[str, str], DirectRoute] | None = None,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_batch_body_bytes = max_batch_body_bytes
        # (method, template) -> route function, called from here rather than through the
        # router, its exception layers and dependency injection: a measured hot path
        # (POST /v1/flags; benchmarks/README.md). The route stays declared on its router,
        # so the OpenAPI document and the tests' route table list it as any other.
        self.direct_routes = dict(direct_routes or {})
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        self._table: _RouteTable | None = None

    def _routes(self, scope: Scope) -> _RouteTable:
        if self._table is None:
            self._table = _RouteTable(scope["app"].openapi())
        return self._table

    def _template(self, scope: Scope) -> str | None:
        return self._routes(scope).template(scope["method"], scope["path"])

    def _method_not_allowed(self, scope: Scope) -> str | None:
        """The Allow header when the resource exists but not with this method, else None.

        Answered here rather than by the router, which lists only the methods of the first
        route whose path matches, while a resource here is often two routes (GET and POST).
        """
        allowed = self._routes(scope).allowed(scope["path"])
        if not allowed or scope["method"] in allowed:
            return None
        return ", ".join(sorted(allowed))

    async def _within_budget(
        self, scope: Scope, template: str | None, principal: Principal | None
    ) -> Decision | None:
        """Count an authenticated request against its client's budget, and a token request
        against its source address's (app/ratelimit), before the body is read.

        Requests without a valid token are not counted here: their route answers 401.
        """
        if template in ANONYMOUS_BODY_ROUTES:
            peer = scope.get("client")
            return await _limiter(scope).admit_token_request(peer[0] if peer else "unknown")
        if (scope["method"], template) not in self._routes(scope).authenticated:
            return None
        if principal is None:
            try:
                principal = await authenticate(Request(scope))
            except AppError:
                return None
        return await _limiter(scope).admit_call(principal, writes=scope["method"] in _BODY_METHODS)

    def _count(self, method: str, route: str, status: int, elapsed: float) -> None:
        # labels() hashes and locks on every call; the children are few, so keep them.
        # Unknown methods and routes are folded so clients cannot grow the label set.
        if method not in _KNOWN_METHODS:
            method = "OTHER"
        key = (method, route, status)
        children = self._children.get(key)
        if children is None:
            children = (
                HTTP_REQUESTS.labels(method, route, str(status)),
                HTTP_LATENCY.labels(method, route),
            )
            self._children[key] = children
        children[0].inc()
        children[1].observe(elapsed)

    def _limit_for(self, template: str | None) -> int:
        return self.max_batch_body_bytes if template in BATCH_ROUTES else self.max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Wrap one HTTP request."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        started = time.perf_counter()
        raw_rid = _header(scope, b"x-request-id")
        rid = raw_rid.decode("latin-1") if raw_rid else ""
        if not _REQUEST_ID_RE.match(rid):
            rid = os.urandom(16).hex()
        scope["flagbridge.request_id"] = rid
        rid_token = request_id_var.set(rid)
        cid_token = client_id_var.set(None)
        peer = scope.get("client")
        ip_token = client_ip_var.set(peer[0] if peer else None)
        rid_header = (b"x-request-id", rid.encode("latin-1"))
        status_holder = {"status": 500, "started": False}

        extra_headers = [rid_header]
        served_directly: str | None = None  # the template of a direct route, once called

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                status_holder["started"] = True
                message["headers"] = [*message.get("headers", []), *extra_headers]
            await send(message)

        try:
            downstream_receive = receive
            template = self._template(scope)
            principal = None
            # Authenticate before reading a byte of the body: an anonymous client must
            # not make us wait for, or buffer, megabytes it was never allowed to send.
            if (
                scope["method"] in _BODY_METHODS
                and template is not None
                and template not in ANONYMOUS_BODY_ROUTES
            ):
                try:
                    principal = await authenticate(Request(scope))
                except AppError as err:
                    await self._send_problem(send_wrapper, err.to_problem(), err.headers)
                    return
            budget = await self._within_budget(scope, template, principal)
            if budget is not None:
                if not budget.allowed:
                    refusal = budget.refusal("This budget of requests is spent; see Retry-After")
                    await self._send_problem(send_wrapper, refusal.to_problem(), refusal.headers)
                    return
                extra_headers += [
                    (k.lower().encode(), v.encode()) for k, v in budget.headers().items()
                ]
            if scope["method"] in _BODY_METHODS:
                limit = self._limit_for(template)
                length = _header(scope, b"content-length")
                if length is not None and length.isdigit() and int(length) > limit:
                    await self._send_too_large(send_wrapper, limit)
                    return
                try:
                    downstream_receive = await self._buffered_receive(receive, limit)
                except _BodyTooLarge:
                    await self._send_too_large(send_wrapper, limit)
                    return
            allow = self._method_not_allowed(scope)
            if allow is not None:
                refused = MethodNotAllowed(headers={"Allow": allow})
                await self._send_problem(send_wrapper, refused.to_problem(), refused.headers)
                return
            direct = self.direct_routes.get((scope["method"], template or ""))
            if direct is None:
                await self.app(scope, downstream_receive, send_wrapper)
            else:
                served_directly = template
                await _serve_direct(direct, scope, downstream_receive, send_wrapper)
        except Exception as exc:
            if database_unavailable(exc):
                # Raised outside the routes' handlers (e.g. while authenticating): still 503.
                error_log.warning("database unavailable: %s", type(exc).__name__)
                if not status_holder["started"]:
                    error = unavailable()
                    await self._send_problem(send_wrapper, error.to_problem(), error.headers)
            else:
                log_without_data(error_log, "unhandled error", exc)
                if not status_holder["started"]:
                    await self._send_problem(send_wrapper, generic_problem(500, "Internal error"))
        finally:
            route = scope.get("route")
            route_path = served_directly or getattr(route, "path", None) or "unmatched"
            elapsed = time.perf_counter() - started
            status = status_holder["status"]
            self._count(scope["method"], route_path, status, elapsed)
            if access_log.isEnabledFor(logging.INFO):
                access_log.info(
                    "request",
                    extra={
                        "method": scope["method"],
                        "path": scope["path"],
                        "route": route_path,
                        "status": status,
                        "duration_ms": round(elapsed * 1000, 2),
                        "client_id": scope.get("flagbridge.client_id"),
                    },
                )
            request_id_var.reset(rid_token)
            client_id_var.reset(cid_token)
            client_ip_var.reset(ip_token)

    async def _buffered_receive(self, receive: Receive, limit: int) -> Receive:
        """Read the whole body up to the limit, then replay it to the app.

        Reading first means an oversized chunked body is refused with 413 before any parsing,
        and the app never sees a partial body.
        """
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                # Client went away; hand the disconnect straight to the app.
                pending: list[Message] = [message]
                break
            body = message.get("body", b"")
            size += len(body)
            if size > limit:
                raise _BodyTooLarge
            chunks.append(body)
            if not message.get("more_body", False):
                pending = [{"type": "http.request", "body": b"".join(chunks), "more_body": False}]
                break

        async def replay() -> Message:
            if pending:
                return pending.pop(0)
            return await receive()

        return replay

    async def _send_too_large(self, send: Send, limit: int) -> None:
        err = PayloadTooLarge(f"Request body is larger than the limit of {limit} bytes")
        await self._send_problem(send, err.to_problem())

    @staticmethod
    async def _send_problem(
        send: Send, problem: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        body = json.dumps(problem).encode()
        await send(
            {
                "type": "http.response.start",
                "status": problem["status"],
                "headers": [
                    (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
                    (b"content-length", str(len(body)).encode()),
                    *(
                        (k.lower().encode(), v.encode("latin-1"))
                        for k, v in (headers or {}).items()
                    ),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
