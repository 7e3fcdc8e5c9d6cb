"""What the sync and async clients share: settings, the token cache, the retry policy,
reading answers. Each client only adds its own I/O loop (sync.py, aio.py).

Written by hand rather than generated from openapi/openapi.json: the API is small, and
what a client must get right here (token refresh, Retry-After, Idempotency-Keys, the feed
cursor) is behaviour a generator does not write; generated models would add a dependency
and hundreds of lines for dictionaries the server already validates against the document.
"""

from __future__ import annotations

import json
import os
import random
import tempfile
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx

from app.kit.http import retry_after_seconds

RETRY_STATUSES = frozenset({429, 503})
Json = dict[str, Any]


class ApiError(Exception):
    """An answer that is not a success: its status and RFC 9457 problem document."""

    def __init__(self, status: int, problem: Json) -> None:
        super().__init__(f"{status}: {problem.get('detail') or problem.get('title')}")
        self.status = status
        self.problem = problem


class CursorStore(Protocol):
    """Where a feed iterator keeps its position between runs."""

    def load(self) -> str | None:
        """The saved cursor, None at the start."""

    def save(self, cursor: str) -> None:
        """Remember the cursor (after the items before it were handled)."""


@dataclass
class FileCursorStore:
    """A cursor in a file, replaced atomically (a crash leaves the old or the new one)."""

    path: Path

    def load(self) -> str | None:
        """The saved cursor, None when there is no file yet."""
        try:
            return self.path.read_text(encoding="utf-8").strip() or None
        except FileNotFoundError:
            return None

    def save(self, cursor: str) -> None:
        """Write the cursor to a temporary file and rename it over the old one."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".cursor")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(cursor)
        os.replace(tmp, self.path)


@dataclass
class FeedPosition:
    """Where a feed iterator is: it saves the cursor only after a page's items were handled,
    so a crash repeats at most one page (at least once, never skipped)."""

    store: CursorStore | None
    follow: bool
    cursor: str | None = None

    def __post_init__(self) -> None:
        self.cursor = self.store.load() if self.store else None

    def advance(self, page: Json) -> bool:
        """Move past a handled page; False at the end of the feed unless following it."""
        self.cursor = page["next_cursor"]
        if self.store:
            self.store.save(page["next_cursor"])
        return bool(page["items"]) or self.follow


@dataclass
class ClientCore:
    """Settings, token and retry policy of a client (no I/O here)."""

    base_url: str
    client_id: str
    client_secret: str
    scope: str | None = None
    max_retries: int = 5
    backoff_seconds: float = 0.5
    max_backoff_seconds: float = 30.0
    _token: str | None = field(default=None, repr=False)
    _token_expires: float = 0.0

    def token_request(self) -> tuple[str, dict[str, str]]:
        """The path and form of a client-credentials token request."""
        form = {
            "grant_type": "client_credentials",
            "client_id": self.client_id,
            "client_secret": self.client_secret,
        }
        if self.scope:
            form["scope"] = self.scope
        return "/oauth/token", form

    def cached_token(self) -> str | None:
        """The cached token while it has more than a minute left."""
        return self._token if self._token and time.time() < self._token_expires - 60 else None

    def store_token(self, response: httpx.Response) -> str:
        """Keep a token answer; raises ApiError when it is not one."""
        body = read(response)
        self._token = str(body["access_token"])
        self._token_expires = time.time() + float(body.get("expires_in", 300))
        return self._token

    def forget_token(self) -> None:
        """Drop the token (the server refused it: revoked keys, a clock jump)."""
        self._token = None

    def retry_delay(self, attempt: int, response: httpx.Response | None) -> float | None:
        """Seconds before retrying after `attempt` tries, None when not to retry. Retries
        429 and 503 (honouring Retry-After) and transport errors (response None)."""
        if attempt > self.max_retries:
            return None
        if response is not None and response.status_code not in RETRY_STATUSES:
            return None
        hinted = retry_after_seconds(response.headers.get("retry-after")) if response else None
        if hinted is not None:
            return min(hinted, self.max_backoff_seconds)
        delay = min(self.max_backoff_seconds, self.backoff_seconds * 2 ** (attempt - 1))
        return float(delay * (0.5 + random.random() / 2))  # noqa: S311 - jitter


def new_idempotency_key() -> str:
    """A fresh Idempotency-Key, kept across the retries of one create."""
    return str(uuid.uuid4())


def read(response: httpx.Response) -> Any:
    """The JSON of a successful answer; ApiError with the problem document otherwise."""
    if response.status_code >= 400:
        try:
            problem = response.json()
        except (json.JSONDecodeError, ValueError):
            problem = {"title": response.reason_phrase, "detail": response.text[:500]}
        raise ApiError(response.status_code, problem if isinstance(problem, dict) else {})
    if response.status_code == 204 or not response.content:
        return None
    return response.json()


@dataclass(frozen=True, slots=True)
class Call:
    """One HTTP request for a client's I/O loop to send."""

    method: str
    path: str
    json: Any = None
    params: dict[str, Any] | None = None
    data: dict[str, str] | None = None
    headers: dict[str, str] | None = None

    def send(self, http: httpx.Client | httpx.AsyncClient) -> Any:
        """Send this request on http: the response, or on an async client its awaitable."""
        return http.request(
            self.method,
            self.path,
            json=self.json,
            params=self.params,
            data=self.data,
            headers=self.headers,
        )


Outcome = httpx.Response | httpx.TransportError
Exchange = Generator[Call | float, Outcome | None, Any]
"""Yields a Call (send back its response or transport error) or a delay in seconds (sleep,
send back None); returns the answer's JSON. The sync and async clients drive the same one."""


def exchange(
    core: ClientCore,
    method: str,
    path: str,
    *,
    json: Any = None,
    params: dict[str, Any] | None = None,
    idempotency_key: str | None = None,
) -> Exchange:
    """One API call with token refresh and retries (see ClientCore.retry_delay)."""
    attempt, refreshed = 0, False
    while True:
        attempt += 1
        token = core.cached_token()
        if token is None:
            token_path, form = core.token_request()
            got = yield Call("POST", token_path, data=form)
            if isinstance(got, httpx.TransportError):
                raise got
            assert got is not None
            token = core.store_token(got)
        headers = {"Authorization": f"Bearer {token}"}
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        outcome = yield Call(method, path, json=json, params=params, headers=headers)
        assert outcome is not None
        response = outcome if isinstance(outcome, httpx.Response) else None
        if response is not None and response.status_code == 401 and not refreshed:
            core.forget_token()
            refreshed = True
            continue
        delay = core.retry_delay(attempt, response)
        if delay is None:
            if isinstance(outcome, httpx.TransportError):
                raise outcome
            return read(outcome)
        yield delay


class Routes(ABC):
    """The API's operations, written once for both clients: each returns `_call(...)`,
    a value in the sync client and an awaitable in the async one."""

    core: ClientCore

    @abstractmethod
    def _drive(self, steps: Exchange) -> Any:
        """Run an exchange to its answer: blocking in the sync client, awaitable in the
        async one."""

    def _call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        create: bool = False,
        idempotency_key: str | None = None,
    ) -> Any:
        key = idempotency_key or (new_idempotency_key() if create else None)
        return self._drive(
            exchange(self.core, method, path, json=json, params=params, idempotency_key=key)
        )

    def submit_flag(self, flag: Json, *, idempotency_key: str | None = None) -> Any:
        """POST /v1/flags (with an Idempotency-Key, generated unless given)."""
        return self._call(
            "POST", "/v1/flags", json=flag, create=True, idempotency_key=idempotency_key
        )

    def submit_batch(self, flags: list[Json], *, idempotency_key: str | None = None) -> Any:
        """POST /v1/flags/batch: per-item results in order."""
        return self._call(
            "POST",
            "/v1/flags/batch",
            json={"flags": flags},
            create=True,
            idempotency_key=idempotency_key,
        )

    def get_flag(self, flag_id: str) -> Any:
        """GET /v1/flags/{id}."""
        return self._call("GET", f"/v1/flags/{flag_id}")

    def list_flags(self, **params: Any) -> Any:
        """GET /v1/flags with filters (status, platform, cursor, limit, ...)."""
        return self._call("GET", "/v1/flags", params=params)

    def read_feed(self, cursor: str | None = None, *, limit: int = 100, wait: float = 0) -> Any:
        """GET /v1/feed once; see `feed()` for the iterator."""
        params: dict[str, Any] = {"limit": limit, "wait": wait}
        if cursor:
            params["cursor"] = cursor
        return self._call("GET", "/v1/feed", params=params)

    def set_webhook(self, url: str) -> Any:
        """PUT /v1/webhook: returns the new secret (shown once)."""
        return self._call("PUT", "/v1/webhook", json={"url": url})

    def get_webhook(self) -> Any:
        """GET /v1/webhook."""
        return self._call("GET", "/v1/webhook")

    def delete_webhook(self) -> Any:
        """DELETE /v1/webhook."""
        return self._call("DELETE", "/v1/webhook")

    def rotate_webhook_secret(self) -> Any:
        """POST /v1/webhook/rotate-secret."""
        return self._call("POST", "/v1/webhook/rotate-secret")

    def webhook_deliveries(self, cursor: str | None = None, *, limit: int = 100) -> Any:
        """GET /v1/webhook/deliveries (newest first)."""
        params: dict[str, Any] = {"limit": limit}
        if cursor:
            params["cursor"] = cursor
        return self._call("GET", "/v1/webhook/deliveries", params=params)
