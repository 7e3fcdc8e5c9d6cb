"""Reading an organisation's feed with a cursor that never skips or repeats an event.

Why the cursor is safe. Feed events get their `id` from a sequence when inserted, but
transactions commit in any order, so a reader that remembers "the last id I saw" can see
id 7 (committed) and miss id 5 (still in flight, committed a moment later). Instead:

1. Every event records `txid`, the id of the transaction that wrote it.
2. A read only returns events with `txid < xmin` of its own snapshot. Every transaction
   below xmin has finished, so the set of visible events below xmin can never grow again.
3. Events are ordered by `(txid, id)` and the cursor is the last `(txid, id)` returned.

Take a cursor c returned by a read with horizon xmin0 (so c.txid < xmin0). An event not yet
returned either was not below xmin0 or sorts after c. If its txid >= xmin0 > c.txid it sorts
after c. If its txid < xmin0, its transaction had finished before that read, so it was
visible then and, being in order, was returned unless it sorts after c. Either way nothing
that sorts before the cursor can appear later: no skips; and since the cursor only moves
forward over a total order, no repeats. The price is latency: an event waits for every
transaction that was running when it committed (milliseconds, or the length of a long
write transaction such as a 1000-flag batch).
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.audit import service as audit
from app.auth.principal import Principal
from app.errors import Gone, Unprocessable
from app.feeds.notify import FeedWaiters
from app.flags.repository import flag_json_sql
from app.kit.pagination import decode_cursor, encode_cursor
from app.observability import FEED_EVENTS_SERVED

RECHECK_SECONDS = 1.0
WAITERS_RETRY_AFTER_SECONDS = 5  # a waiting long-poll frees its place within its `wait`
"""While long-polling, look at the database at least this often even without a NOTIFY."""


def _bad_cursor() -> Unprocessable:
    return Unprocessable(
        "Invalid cursor", errors=[{"field": "cursor", "message": "not a valid feed cursor"}]
    )


def parse_cursor(cursor: str | None, *, retention_days: int) -> tuple[int, int]:
    """(txid, id) of a feed cursor; 410 when it is older than the retention window."""
    if not cursor:
        return 0, 0
    key = decode_cursor(cursor, arity=3)
    try:
        txid, event_id, issued = int(key[0]), int(key[1]), float(key[2])
    except (TypeError, ValueError, OverflowError) as exc:
        raise _bad_cursor() from exc
    if not isinstance(key[1], int) or not math.isfinite(issued):
        raise _bad_cursor()
    if not (0 <= txid < 2**63 and 0 <= event_id < 2**63):
        raise _bad_cursor()
    if issued < time.time() - retention_days * 86400:
        raise Gone(
            f"This cursor is older than the feed's retention window ({retention_days} days). "
            "Resynchronise: list current flags (GET /v1/flags, or your platform's open "
            "flags), then read the feed again without a cursor.",
            retention_days=retention_days,
        )
    return txid, event_id


def make_cursor(txid: int, event_id: int) -> str:
    """A feed cursor; it carries its issue time so stale ones can be told apart."""
    return encode_cursor([str(txid), event_id, int(time.time())])


async def _page(
    session: AsyncSession, *, org_id: uuid.UUID, after: tuple[int, int], limit: int
) -> list[dict[str, Any]]:
    rows = await session.execute(
        text(
            """
            SELECT e.id, e.txid::text::bigint AS txid, e.type, fb_ts(e.occurred_at) AS occurred_at,
                   e.flag_id, e.hold_id, e.data
            FROM feed_event e
            WHERE e.recipient_org_id = :org
              AND e.txid < pg_snapshot_xmin(pg_current_snapshot())
              AND (e.txid, e.id) > (CAST(CAST(:txid AS text) AS xid8), :id)
            ORDER BY e.txid, e.id
            LIMIT :limit
            """
        ),
        {"org": org_id, "txid": str(after[0]), "id": after[1], "limit": limit},
    )
    return [dict(r._mapping) for r in rows]


async def mark_delivered(
    session: AsyncSession, *, principal: Principal, flag_ids: list[uuid.UUID], via: str = "feed"
) -> None:
    """First hand-over of flags to their platform: set delivered_at, history, audit
    (`via` the feed or its webhook, app/webhooks)."""
    delivered = await session.execute(
        text(
            """
            WITH d AS (
                UPDATE flag SET delivered_at = now(), updated_at = now()
                WHERE id = ANY(:ids) AND delivered_at IS NULL AND platform_org_id = :org
                RETURNING id
            ), h AS (
                INSERT INTO flag_event (flag_id, type, actor_org_id, actor_client_id)
                SELECT id, 'delivered', :org, :client FROM d
            )
            SELECT id FROM d
            """
        ),
        {"ids": flag_ids, "org": principal.org_id, "client": principal.client_id},
    )
    for (flag_id,) in delivered:
        await audit.record(
            session=session,
            actor=principal,
            action="flag.delivered",
            object_type="flag",
            object_id=flag_id,
            data={"via": via},
        )


async def render_events(
    session: AsyncSession, principal: Principal, events: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Feed items of event rows, each with its flag (or hold) as the principal sees it now."""
    flag_ids = sorted({e["flag_id"] for e in events if e["flag_id"]})
    hold_ids = sorted({e["hold_id"] for e in events if e["hold_id"]})
    flags: dict[str, Any] = {}
    holds: dict[str, Any] = {}
    if flag_ids:
        rows = await session.execute(
            text(
                f"SELECT f.id::text, {flag_json_sql(principal)} "  # noqa: S608
                "FROM flag f WHERE f.id = ANY(:ids)"
            ),
            {"ids": flag_ids},
        )
        flags = {r[0]: r[1] for r in rows}
    if hold_ids:
        rows = await session.execute(
            text("SELECT h.id::text, fb_hold_json(h) FROM hold h WHERE h.id = ANY(:ids)"),
            {"ids": hold_ids},
        )
        holds = {r[0]: r[1] for r in rows}
    items = []
    for e in events:
        item: dict[str, Any] = {
            "event_id": str(e["id"]),
            "type": e["type"],
            "occurred_at": e["occurred_at"],
        }
        if e["flag_id"]:
            item["flag"] = flags.get(str(e["flag_id"]))
        if e["hold_id"]:
            item["hold"] = holds.get(str(e["hold_id"]))
        if e["data"]:
            item["data"] = e["data"]
        items.append(item)
    return items


async def read_once(
    session: AsyncSession,
    *,
    principal: Principal,
    after: tuple[int, int],
    limit: int,
) -> tuple[list[dict[str, Any]], tuple[int, int]]:
    """One read of the feed: items after the cursor and the new position."""
    events = await _page(session, org_id=principal.org_id, after=after, limit=limit)
    if not events:
        return [], after
    if principal.kind == "platform":
        ids = sorted({e["flag_id"] for e in events if e["flag_id"]})
        if ids:
            await mark_delivered(session, principal=principal, flag_ids=ids)
    items = await render_events(session, principal, events)
    last = events[-1]
    return items, (int(last["txid"]), int(last["id"]))


async def record_poll(session: AsyncSession, org_id: uuid.UUID) -> None:
    """Remember when the organisation last read its feed (platform health dashboards)."""
    await session.execute(
        text(
            "INSERT INTO org_feed_state (org_id, last_polled_at) VALUES (:o, now()) "
            "ON CONFLICT (org_id) DO UPDATE SET last_polled_at = excluded.last_polled_at"
        ),
        {"o": org_id},
    )


async def read_feed(
    *,
    sessionmaker: async_sessionmaker[AsyncSession],
    waiters: FeedWaiters,
    principal: Principal,
    cursor: str | None,
    limit: int,
    wait: float,
    retention_days: int,
    max_waiters: int,
    disconnected: Callable[[], Awaitable[bool]] | None = None,
) -> dict[str, Any]:
    """Read the feed, long-polling up to `wait` seconds for the first event.

    Each attempt is its own short transaction, so no connection is held while waiting;
    waiting is on an in-process event woken by NOTIFY (or a periodic re-check). The poll is
    recorded once per request, by the first attempt: re-checks only read, so idle waiters
    commit nothing. A client may have at most `max_waiters` long-polls waiting (429).
    """
    after = parse_cursor(cursor, retention_days=retention_days)
    if wait <= 0:
        return await _read_until(
            sessionmaker, waiters, principal, after, limit, time.monotonic(), disconnected
        )
    with waiters.admitted(
        str(principal.client_id), limit=max_waiters, retry_after=WAITERS_RETRY_AFTER_SECONDS
    ):
        return await _read_until(
            sessionmaker, waiters, principal, after, limit, time.monotonic() + wait, disconnected
        )


async def _read_until(
    sessionmaker: async_sessionmaker[AsyncSession],
    waiters: FeedWaiters,
    principal: Principal,
    after: tuple[int, int],
    limit: int,
    deadline: float,
    disconnected: Callable[[], Awaitable[bool]] | None,
) -> dict[str, Any]:
    """Read, then wait and re-read until an event comes or the deadline passes."""
    first = True
    while True:
        async with sessionmaker() as session, session.begin():
            items, position = await read_once(
                session, principal=principal, after=after, limit=limit
            )
            if first:
                await record_poll(session, principal.org_id)
                first = False
        remaining = deadline - time.monotonic()
        if items or remaining <= 0:
            FEED_EVENTS_SERVED.labels(principal.kind).inc(len(items))
            return {"items": items, "next_cursor": make_cursor(*position)}
        await waiters.wait(str(principal.org_id), min(remaining, RECHECK_SECONDS))
        if disconnected is not None and await disconnected():
            # The client gave up; stop polling the database on its behalf.
            return {"items": [], "next_cursor": make_cursor(*position)}
