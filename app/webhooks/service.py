"""The rules of webhook registration: one per organisation, a secret shown once, rotation
with an overlap, URLs checked against app/webhooks/urls.py. Delivery is in worker.py."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.auth.principal import Principal
from app.errors import NotFound, field_error
from app.kit.pagination import decode_seq_cursor, encode_cursor
from app.kit.webhook_signature import new_secret
from app.webhooks import repository as repo
from app.webhooks import urls
from app.webhooks.schemas import Delivery, DeliveryPage, WebhookOut, WebhookSecret


def _no_webhook() -> NotFound:
    return NotFound("Your organisation has no webhook")


async def _audit(
    session: AsyncSession, principal: Principal, action: str, data: dict[str, Any], url: str
) -> None:
    # The URL may carry a receiver's token in its path or query: the log keeps its hash.
    await audit.record(
        session=session,
        actor=principal,
        action=action,
        object_type="webhook",
        object_id=principal.org_id,
        data=data,
        free_text={"url": url},
    )


async def set_webhook(
    *,
    session: AsyncSession,
    principal: Principal,
    url: str,
    production: bool,
    allow_private: bool,
    overlap_seconds: int,
) -> WebhookSecret:
    """Create or replace the organisation's webhook with a new secret (returned once)."""
    try:
        host = await urls.check_registration(
            url, production=production, allow_private=allow_private
        )
    except urls.UrlRefused as exc:
        raise field_error("url", str(exc)) from exc
    secret = new_secret()
    row = await repo.upsert(
        session,
        org_id=principal.org_id,
        url=url,
        secret=secret,
        client_id=principal.client_id,
        overlap_seconds=overlap_seconds,
    )
    await _audit(session, principal, "webhook.set", {"host": host}, url)
    return WebhookSecret(**row, secret=secret)


async def get_webhook(*, session: AsyncSession, principal: Principal) -> WebhookOut:
    """The organisation's webhook (404 when it has none)."""
    row = await repo.get(session, org_id=principal.org_id)
    if row is None:
        raise _no_webhook()
    return WebhookOut(**row)


async def delete_webhook(*, session: AsyncSession, principal: Principal) -> None:
    """Stop pushing: remove the webhook and its pending deliveries (the feed is unchanged)."""
    url = await repo.delete(session, org_id=principal.org_id)
    if url is None:
        raise _no_webhook()
    await _audit(session, principal, "webhook.deleted", {}, url)


async def rotate_secret(
    *, session: AsyncSession, principal: Principal, overlap_seconds: int
) -> WebhookSecret:
    """A new secret (returned once); the old one also signs until the overlap ends."""
    secret = new_secret()
    row = await repo.rotate(
        session, org_id=principal.org_id, secret=secret, overlap_seconds=overlap_seconds
    )
    if row is None:
        raise _no_webhook()
    await _audit(
        session,
        principal,
        "webhook.secret_rotated",
        {"previous_secret_expires_at": row["previous_secret_expires_at"]},
        row["url"],
    )
    return WebhookSecret(**row, secret=secret)


async def list_deliveries(
    *, session: AsyncSession, principal: Principal, cursor: str | None, limit: int
) -> DeliveryPage:
    """The organisation's deliveries, newest first, keyset-paginated by delivery id."""
    before = decode_seq_cursor(cursor) or None
    rows = await repo.deliveries(
        session, org_id=principal.org_id, before_id=before, limit=limit + 1
    )
    next_cursor = encode_cursor([rows[limit - 1]["id"]]) if len(rows) > limit else None
    items = [
        Delivery(
            **{k: v for k, v in row.items() if k not in ("id", "event_id")},
            event_id=str(row["event_id"]),
        )
        for row in rows[:limit]
    ]
    return DeliveryPage(items=items, next_cursor=next_cursor)


async def webhook_statuses(*, session: AsyncSession) -> dict[uuid.UUID, str]:
    """Each organisation's webhook status, `active` or `disabled` (absent: no webhook)."""
    return await repo.webhook_statuses(session)
