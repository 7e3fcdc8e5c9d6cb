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

import json
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


# The events of a page: after the cursor, below the snapshot's xmin (see above).
_PAGE_EVENTS = """
    SELECT e.id, e.txid, e.type, e.occurred_at, e.flag_id, e.hold_id, e.data
    FROM feed_event e
    WHERE e.recipient_org_id = :org
      AND e.txid < pg_snapshot_xmin(pg_current_snapshot())
      AND (e.txid, e.id) > (CAST(CAST(:txid AS text) AS xid8), :id)
    ORDER BY e.txid, e.id
    LIMIT :limit
"""
# Named events (a webhook's first attempt renders its one event as the feed shows it).
_LISTED_EVENTS = """
    SELECT e.id, e.txid, e.type, e.occurred_at, e.flag_id, e.hold_id, e.data
    FROM feed_event e WHERE e.id = ANY(:event_ids)
"""


def _delivery_ctes(flag_ids: str) -> str:
    """First hand-over of the platform's flags among `flag_ids` (a SQL set) as sets:
    `delivered` (the flags' ids), its history events, and `delivered_audit` (one row;
    select it so its audit entries are written)."""
    return f"""
    delivered AS (
        UPDATE flag f SET delivered_at = now(), updated_at = now()
        WHERE f.id IN ({flag_ids}) AND f.delivered_at IS NULL AND f.platform_org_id = :org
        RETURNING f.id
    ), delivered_history AS (
        INSERT INTO flag_event (flag_id, type, actor_org_id, actor_client_id)
        SELECT id, 'delivered', :org, :client FROM delivered ORDER BY id
    ), delivered_audit AS (
        SELECT fb_audit_record_many(coalesce(jsonb_agg(
                   CAST(:audit AS jsonb) || jsonb_build_object('object_id', id::text)
                   ORDER BY id), '[]'::jsonb)) AS done
        FROM delivered
    )"""  # noqa: S608 - a fixed fragment; values are bound parameters


def _delivery_params(principal: Principal, via: str) -> dict[str, Any]:
    entry = audit.entry(actor=principal, action="flag.delivered", object_type="flag")
    return {
        "org": principal.org_id,
        "client": principal.client_id,
        "audit": json.dumps({**entry, "data": {"via": via}}),
    }


# A page's events, and for a platform the first hand-over of their flags: the event ids
# to render (by _items_sql, in a statement of its own, which sees the hand-over), the
# page's size and its last (txid, id).
def _page_sql(*, deliver: bool) -> str:
    ctes, done = f"ev AS ({_PAGE_EVENTS})", "0"
    if deliver:
        ctes += "," + _delivery_ctes("SELECT flag_id FROM ev")  # noqa: S608
        done = "(SELECT count(*) FROM delivered_audit)"
    return f"""
    WITH {ctes}
    SELECT count(*) AS n, array_agg(id) AS ids,
           (array_agg(txid::text ORDER BY txid DESC, id DESC))[1] AS last_txid,
           (array_agg(id ORDER BY txid DESC, id DESC))[1] AS last_id,
           {done} AS delivered
    FROM ev
    """  # noqa: S608 - fixed fragments; every value is a bound parameter


_READ_PAGE, _DELIVER_PAGE = _page_sql(deliver=False), _page_sql(deliver=True)


def _items_sql(events: str, principal: Principal) -> str:
    """One statement: the events as one JSON text (items in cursor order), each flag
    rendered as the principal sees it, the page's flags as one set (`fb_flag_docs`).

    Each item is written as JSON text around its parts' text (to_json quotes the strings;
    documents are jsonb): nesting a flag's document into a jsonb item and concatenating
    would copy it three times, only to turn it into text once more for the body.
    """
    platform_view = "true" if principal.kind == "platform" else "false"
    return f"""
    WITH ev AS ({events}),
    docs AS (
        SELECT d.id, d.doc FROM fb_flag_docs(
            ARRAY(SELECT DISTINCT flag_id FROM ev WHERE flag_id IS NOT NULL), {platform_view}) d
    ),
    items AS (
        SELECT ev.txid, ev.id,
               '{{"event_id":' || to_json(ev.id::text) || ',"type":' || to_json(ev.type)
               || ',"occurred_at":' || to_json(fb_ts(ev.occurred_at))
               || CASE WHEN ev.flag_id IS NULL THEN ''
                       ELSE ',"flag":' || coalesce(docs.doc::text, 'null') END
               || CASE WHEN ev.hold_id IS NULL THEN '' ELSE ',"hold":' || coalesce((
                      SELECT fb_hold_json(h)::text FROM hold h WHERE h.id = ev.hold_id),
                      'null') END
               || CASE WHEN ev.data IS NULL OR ev.data IN ('{{}}'::jsonb, 'null'::jsonb)
                       THEN '' ELSE ',"data":' || ev.data::text END
               || '}}' AS item
        FROM ev LEFT JOIN docs ON docs.id = ev.flag_id
    )
    SELECT '[' || coalesce(string_agg(item, ',' ORDER BY txid, id), '') || ']' AS items
    FROM items
    """  # noqa: S608 - fixed fragments; every value is a bound parameter


async def read_once(
    session: AsyncSession, *, principal: Principal, after: tuple[int, int], limit: int
) -> tuple[int, str, tuple[int, int]]:
    """(items, the page's items as JSON text, position after them); a platform's first
    read of a flag hands it over. Two statements, whatever the page's size: the events
    (and the hand-over), then the page rendered."""
    params: dict[str, Any] = {
        "org": principal.org_id, "txid": str(after[0]), "id": after[1], "limit": limit
    }  # fmt: skip
    page = _READ_PAGE
    if principal.kind == "platform":
        page = _DELIVER_PAGE
        params |= _delivery_params(principal, "feed")
    row = (await session.execute(text(page), params)).one()
    if not row.n:
        return 0, "[]", after
    items = (
        await session.execute(text(_items_sql(_LISTED_EVENTS, principal)), {"event_ids": row.ids})
    ).scalar_one()
    return int(row.n), str(items), (int(row.last_txid), int(row.last_id))


_DELIVER_LISTED = _delivery_ctes("SELECT unnest(CAST(:ids AS uuid[]))")
_MARK_DELIVERED = f"WITH {_DELIVER_LISTED} SELECT done FROM delivered_audit"  # noqa: S608


async def mark_delivered(
    session: AsyncSession, *, principal: Principal, flag_ids: list[uuid.UUID], via: str = "feed"
) -> None:
    """First hand-over of flags to their platform: set delivered_at, history, audit, as
    sets in one statement (`via` the feed or its webhook, app/webhooks)."""
    await session.execute(
        text(_MARK_DELIVERED),
        {"ids": flag_ids, **_delivery_params(principal, via)},
    )


async def render_events(
    session: AsyncSession, principal: Principal, events: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Feed items of event rows (by their `id`), as the feed shows them to the principal."""
    items = (
        await session.execute(
            text(_items_sql(_LISTED_EVENTS, principal)),
            {"event_ids": [e["id"] for e in events]},
        )
    ).scalar_one()
    return list(json.loads(items))


def _page_body(items: str, position: tuple[int, int]) -> str:
    """A FeedPage as JSON text around the items' text, without parsing them again."""
    return f'{{"items":{items},"next_cursor":{json.dumps(make_cursor(*position))}}}'


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
) -> str:
    """Read the feed, long-polling up to `wait` seconds for the first event; the page as
    JSON text (its items are serialised once, by the statement that reads them).

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
) -> str:
    """Read, then wait and re-read until an event comes or the deadline passes."""
    first = True
    while True:
        async with sessionmaker() as session, session.begin():
            count, items, position = await read_once(
                session, principal=principal, after=after, limit=limit
            )
            if first:
                await record_poll(session, principal.org_id)
                first = False
        remaining = deadline - time.monotonic()
        if count or remaining <= 0:
            FEED_EVENTS_SERVED.labels(principal.kind).inc(count)
            return _page_body(items, position)
        await waiters.wait(str(principal.org_id), min(remaining, RECHECK_SECONDS))
        if disconnected is not None and await disconnected():
            # The client gave up; stop polling the database on its behalf.
            return _page_body("[]", position)
