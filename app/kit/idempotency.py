"""Idempotency-Key handling shared by every route that creates something.

Keys are scoped to the client and the route and stored in PostgreSQL with the original
status and body. A transaction-scoped advisory lock on (client, route, key) makes a
concurrent request with the same key a 409 instead of a second creation; the stored row
makes a later retry a replay; a different body under the same key is a 422. The check and
the store happen in the same transaction as the creation they guard.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Header, Request
from fastapi.responses import Response
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import PROBLEM_MEDIA_TYPE, Unprocessable

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        description="Makes a retry safe: same key and body returns the original response.",
    ),
]


IDEMPOTENCY_PARAMETER = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Makes a retry safe: same key and body returns the original response.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
}


def read_idempotency_key(request: Request) -> str | None:
    """The Idempotency-Key header, checked as the declared parameter would be."""
    key = request.headers.get("idempotency-key")
    if key is not None and not 1 <= len(key) <= 255:
        raise Unprocessable(
            "Invalid input: Idempotency-Key",
            errors=[{"field": "Idempotency-Key", "message": "must be 1 to 255 characters"}],
        )
    return key


def json_response(status: int, body: str | bytes, *, replayed: bool = False) -> Response:
    """A response from already-serialised JSON (problem+json for errors)."""
    media = PROBLEM_MEDIA_TYPE if status >= 400 else "application/json"
    headers = {"Idempotent-Replayed": "true"} if replayed else None
    return Response(content=body, status_code=status, media_type=media, headers=headers)


@dataclass(frozen=True)
class KeySlot:
    """Where one Idempotency-Key is kept: the client, the route, the key, the request's hash."""

    client_id: uuid.UUID
    route: str
    key: str
    request_hash: str

    def params(self) -> dict[str, Any]:
        """The slot as the bound parameters :c, :r, :k, :h of the statements below."""
        return {"c": self.client_id, "r": self.route, "k": self.key, "h": self.request_hash}


async def check(session: AsyncSession, slot: KeySlot) -> Response | None:
    """The response to give instead of processing the request, if any."""
    raw = (
        await session.execute(
            text("SELECT fb_idempotency_check(:c, :r, :k, :h)::text"), slot.params()
        )
    ).scalar()
    if raw is None:
        return None
    found = json.loads(raw)
    return json_response(
        int(found["status"]), json.dumps(found["body"]), replayed=bool(found.get("replayed"))
    )


async def store(
    session: AsyncSession, slot: KeySlot, *, status: int, body: Any, raw: str | None = None
) -> None:
    """Remember the response for retries (same transaction as the creation); `raw` is the
    body already serialised, stored instead of `body`."""
    await session.execute(
        text(
            "INSERT INTO idempotency_key (client_id, route, key, request_hash, status_code, "
            "response) VALUES (:c, :r, :k, :h, :s, CAST(:b AS jsonb))"
        ),
        {**slot.params(), "s": status, "b": raw if raw is not None else json.dumps(body)},
    )


async def prune(session: AsyncSession, *, retention_hours: int, batch: int = 5000) -> int:
    """Delete keys past their retention (in batches, to keep transactions short)."""
    result = await session.execute(
        text(
            "DELETE FROM idempotency_key WHERE ctid IN (SELECT ctid FROM idempotency_key "
            "WHERE created_at < now() - make_interval(hours => :h) LIMIT :n)"
        ),
        {"h": retention_hours, "n": batch},
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
