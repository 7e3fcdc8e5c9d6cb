"""The Idempotency-Key shape every creating route shares: replay, or create and remember.

The check, the creation and the store run in the request's one transaction, so a retry
either replays the stored response or finds nothing stored and creates afresh; see
`app.kit.idempotency` for the lock that makes concurrent retries a 409.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit import idempotency
from app.kit.canonical import sha256_hex


@dataclass(frozen=True)
class Created:
    """What a creation answers: status, JSON body and, for a new resource, its location."""

    status: int
    body: Any
    location: str | None = None
    # The body already serialised, for a large answer assembled from JSON the database
    # rendered (a batch): stored and sent as it is, never parsed and encoded again.
    raw: str | None = None


async def create_once(
    session: AsyncSession,
    client_id: uuid.UUID,
    route: str,
    *,
    key: str | None,
    request: Any,
    create: Callable[[], Awaitable[Created]],
    remember: Callable[[Any], Any] | None = None,
) -> Response:
    """Replay the response stored under key, or run create and store its response.

    `request` is what identifies the request (a pydantic model is compared as its JSON):
    the same key with a different request is a 422. `remember` maps the body before it is
    stored, for answers that carry what must never rest in the database (a secret).
    """
    if isinstance(request, BaseModel):
        request = request.model_dump(mode="json")
    slot = idempotency.KeySlot(client_id, route, key, sha256_hex(request)) if key else None
    if slot is not None:
        replay = await idempotency.check(session, slot)
        if replay is not None:
            return replay
    created = await create()
    if slot is not None:
        body = remember(created.body) if remember else created.body
        await idempotency.store(session, slot, status=created.status, body=body, raw=created.raw)
    headers = {"Location": created.location} if created.location else None
    if created.raw is not None:
        response = idempotency.json_response(created.status, created.raw)
        response.headers.update(headers or {})
        return response
    return JSONResponse(created.body, status_code=created.status, headers=headers)
