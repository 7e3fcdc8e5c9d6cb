"""Every SQL statement of webhooks: the registration, the outbox rows and their claims.

Claiming is a lease. A worker takes due rows with `FOR UPDATE SKIP LOCKED` in a short
transaction, counts the attempt and pushes `next_attempt_at` past the lease, then commits
and calls the endpoint with no transaction open. Its result is written only if the row
still carries the attempt number it claimed, so a worker that was presumed dead (its lease
ran out and another worker took the row) cannot overwrite a newer attempt. The lease is
longer than the HTTP timeout, so two live workers never send one attempt twice.

Order per subject: a row is due only when no earlier pending row of the same organisation
and flag (or hold) exists, in feed order `(txid, event_id)`, so a flag's later event waits
for its earlier one.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

_WEBHOOK_COLUMNS = """
    w.org_id, w.url, w.status, w.disabled_reason, fb_ts(w.disabled_at) AS disabled_at,
    fb_ts(w.previous_secret_expires_at) AS previous_secret_expires_at,
    fb_ts(w.created_at) AS created_at, fb_ts(w.updated_at) AS updated_at
"""


async def get(session: AsyncSession, *, org_id: uuid.UUID) -> dict[str, Any] | None:
    """The organisation's webhook as shown to it (never the secrets)."""
    row = await session.execute(
        text(f"SELECT {_WEBHOOK_COLUMNS} FROM webhook w WHERE w.org_id = :org"),  # noqa: S608
        {"org": org_id},
    )
    found = row.mappings().first()
    return dict(found) if found else None


async def upsert(
    session: AsyncSession,
    *,
    org_id: uuid.UUID,
    url: str,
    secret: str,
    client_id: uuid.UUID,
    overlap_seconds: int,
) -> dict[str, Any]:
    """Set the URL and a new secret; a replaced secret keeps signing for the overlap."""
    row = await session.execute(
        text(
            f"""
            WITH w AS (
                INSERT INTO webhook AS w (org_id, url, secret, set_by_client_id)
                VALUES (:org, :url, :secret, :client)
                ON CONFLICT (org_id) DO UPDATE SET
                    url = excluded.url, secret = excluded.secret,
                    previous_secret = w.secret,
                    previous_secret_expires_at = now() + make_interval(secs => :overlap),
                    set_by_client_id = excluded.set_by_client_id,
                    status = 'active', disabled_reason = NULL, disabled_at = NULL,
                    updated_at = now()
                RETURNING *
            )
            SELECT {_WEBHOOK_COLUMNS} FROM w
            """  # noqa: S608
        ),
        {
            "org": org_id,
            "url": url,
            "secret": secret,
            "client": client_id,
            "overlap": overlap_seconds,
        },
    )
    return dict(row.mappings().one())


async def rotate(
    session: AsyncSession, *, org_id: uuid.UUID, secret: str, overlap_seconds: int
) -> dict[str, Any] | None:
    """Replace the secret; the old one keeps signing for the overlap. None: no webhook."""
    row = await session.execute(
        text(
            f"""
            WITH w AS (
                UPDATE webhook SET previous_secret = secret, secret = :secret,
                    previous_secret_expires_at = now() + make_interval(secs => :overlap),
                    updated_at = now()
                WHERE org_id = :org
                RETURNING *
            )
            SELECT {_WEBHOOK_COLUMNS} FROM w
            """  # noqa: S608
        ),
        {"org": org_id, "secret": secret, "overlap": overlap_seconds},
    )
    found = row.mappings().first()
    return dict(found) if found else None


async def delete(session: AsyncSession, *, org_id: uuid.UUID) -> str | None:
    """Remove the webhook and its outbox rows; returns the URL it had (None: none)."""
    # Outbox rows first, then the webhook: the order in which the worker locks them (it
    # records an attempt on a delivery row, then may disable the webhook). Deleting the
    # webhook first and its rows by cascade took the locks the other way round, and the
    # two could deadlock.
    await session.execute(text("DELETE FROM webhook_delivery WHERE org_id = :org"), {"org": org_id})
    row = await session.execute(
        text("DELETE FROM webhook WHERE org_id = :org RETURNING url"), {"org": org_id}
    )
    return row.scalar()


async def disable(session: AsyncSession, *, org_id: uuid.UUID, reason: str) -> bool:
    """Stop delivering to the webhook until it is set again; False if it was not active."""
    row = await session.execute(
        text(
            "UPDATE webhook SET status = 'disabled', disabled_reason = :reason, "
            "disabled_at = now(), updated_at = now() "
            "WHERE org_id = :org AND status = 'active' RETURNING org_id"
        ),
        {"org": org_id, "reason": reason},
    )
    return row.scalar() is not None


async def deliveries(
    session: AsyncSession, *, org_id: uuid.UUID, before_id: int | None, limit: int
) -> list[dict[str, Any]]:
    """Outbox rows of the organisation, newest first, from before a delivery id."""
    rows = await session.execute(
        text(
            """
            SELECT d.id, d.event_id, d.status, d.attempts, d.last_status_code, d.last_error,
                   fb_ts(d.created_at) AS created_at,
                   fb_ts(d.last_attempt_at) AS last_attempt_at,
                   fb_ts(CASE WHEN d.status = 'pending' THEN d.next_attempt_at END)
                       AS next_attempt_at,
                   fb_ts(d.delivered_at) AS delivered_at
            FROM webhook_delivery d
            WHERE d.org_id = :org AND (CAST(:before AS bigint) IS NULL OR d.id < :before)
            ORDER BY d.id DESC
            LIMIT :limit
            """
        ),
        {"org": org_id, "before": before_id, "limit": limit},
    )
    return [dict(r) for r in rows.mappings()]


async def claim_due(
    session: AsyncSession, *, limit: int, lease_seconds: float
) -> list[dict[str, Any]]:
    """Lease due deliveries of active webhooks (see the module's note on claiming)."""
    rows = await session.execute(
        text(
            """
            WITH due AS (
                SELECT d.id FROM webhook_delivery d
                JOIN webhook w ON w.org_id = d.org_id AND w.status = 'active'
                WHERE d.status = 'pending' AND d.next_attempt_at <= now()
                  AND NOT EXISTS (
                      SELECT 1 FROM webhook_delivery e
                      WHERE e.status = 'pending' AND e.org_id = d.org_id
                        AND e.subject_id = d.subject_id
                        AND (e.txid, e.event_id) < (d.txid, d.event_id))
                ORDER BY d.next_attempt_at, d.id
                LIMIT :limit
                FOR UPDATE OF d SKIP LOCKED
            )
            UPDATE webhook_delivery d
            SET attempts = d.attempts + 1, last_attempt_at = now(),
                next_attempt_at = now() + make_interval(secs => :lease)
            FROM due, webhook w, organization o
            WHERE d.id = due.id AND w.org_id = d.org_id AND o.id = d.org_id
            RETURNING d.id, d.org_id, d.event_id, d.subject_id, d.attempts, d.created_at,
                      d.payload, w.url, w.secret, w.set_by_client_id,
                      CASE WHEN w.previous_secret_expires_at > now()
                           THEN w.previous_secret END AS previous_secret,
                      o.kind, o.country, o.platform
            """
        ),
        {"limit": limit, "lease": lease_seconds},
    )
    return [dict(r) for r in rows.mappings()]


async def events(session: AsyncSession, *, event_ids: list[int]) -> list[dict[str, Any]]:
    """Feed event rows by id, in feed order, shaped as the feed's renderer takes them."""
    rows = await session.execute(
        text(
            """
            SELECT e.id, e.type, fb_ts(e.occurred_at) AS occurred_at, e.flag_id, e.hold_id,
                   e.data
            FROM feed_event e WHERE e.id = ANY(:ids) ORDER BY e.txid, e.id
            """
        ),
        {"ids": event_ids},
    )
    return [dict(r) for r in rows.mappings()]


async def save_payload(session: AsyncSession, *, delivery_id: int, payload: str) -> None:
    """Keep the body of the first attempt, so retries send the same bytes."""
    await session.execute(
        text("UPDATE webhook_delivery SET payload = :p WHERE id = :id"),
        {"id": delivery_id, "p": payload},
    )


async def record_attempt(
    session: AsyncSession,
    *,
    delivery_id: int,
    attempt: int,
    status: str,
    status_code: int | None,
    error: str | None,
    retry_in_seconds: float | None,
) -> bool:
    """Write an attempt's result if the row is still this attempt's; False if it moved on."""
    row = await session.execute(
        text(
            """
            UPDATE webhook_delivery SET status = :status, last_status_code = :code,
                last_error = :error,
                next_attempt_at = CASE WHEN CAST(:retry AS float8) IS NULL THEN next_attempt_at
                    ELSE now() + make_interval(secs => CAST(:retry AS float8)) END,
                delivered_at = CASE WHEN :status = 'delivered' THEN now() END
            WHERE id = :id AND attempts = :attempt AND status = 'pending'
            RETURNING id
            """
        ),
        {
            "id": delivery_id,
            "attempt": attempt,
            "status": status,
            "code": status_code,
            "error": error,
            "retry": retry_in_seconds,
        },
    )
    return row.scalar() is not None


async def webhook_statuses(session: AsyncSession) -> dict[uuid.UUID, str]:
    """Every organisation's webhook status (organisations without one are absent)."""
    rows = await session.execute(text("SELECT org_id, status FROM webhook"))
    return {r[0]: r[1] for r in rows}
