"""Every SQL statement of the statistics: reads of the rollups, live backlogs, folding.

The rollups are kept at two grains. A range [from, to) is read as whole months from the
month grain and the ragged edges from the day grain (or all from the day grain when the
caller groups by day), so a two-year query reads 24 rows per key instead of 730.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

# Group name -> SQL expression over the rollup's columns. Fixed strings: callers choose
# among these names, never pass SQL.
OUTCOME_KEYS = {
    "country": "country",
    "agency": "agency_org_id",
    "platform": "platform",
    "kind": "kind",
    "category": "category",
    "action": "action",
    "month": "date_trunc('month', starts_on)::date",
    "day": "starts_on",
}
RESPONSE_KEYS = {"platform": "platform", "priority": "priority", "kind": "kind"}
REPORT_KEYS = {
    "platform": "r.platform",
    "country": "w.country",
    "category": "w.category",
    "action": "w.action",
    "source": "w.source",
    "month": "date_trunc('month', r.period_start)::date",
}
# Live flags: this predicate matches the partial index ix_flag_account_live, so backlog
# queries read only the live flags (a few thousand) however large the table grows.
LIVE = "f.status NOT IN ('closed', 'withdrawn')"
ACTIONED = ("account_suspended", "content_removed", "account_restricted")


@dataclass(frozen=True)
class Span:
    """Rows of one grain with starts_on in [start, end)."""

    period: str
    start: date
    end: date


def first_of_month(day: date) -> date:
    """The first day of day's month."""
    return day.replace(day=1)


def next_month(day: date) -> date:
    """The first day of the month after day's."""
    return date(day.year + 1, 1, 1) if day.month == 12 else date(day.year, day.month + 1, 1)


def spans(date_from: date, date_to: date, *, daily: bool) -> list[Span]:
    """[date_from, date_to) as whole months of the month grain plus day-grain edges."""
    if date_from >= date_to:
        return []
    if daily:
        return [Span("day", date_from, date_to)]
    m1 = date_from if date_from.day == 1 else next_month(date_from)
    m2 = first_of_month(date_to)
    if m1 >= m2:
        return [Span("day", date_from, date_to)]
    out = [Span("month", m1, m2)]
    if date_from < m1:
        out.append(Span("day", date_from, m1))
    if m2 < date_to:
        out.append(Span("day", m2, date_to))
    return out


def _span_union(
    table: str, columns: list[str], parts: list[Span], extra: str = ""
) -> tuple[str, dict[str, Any]]:
    """A UNION ALL of one index range scan per span (each on the primary key's prefix)."""
    selects = []
    params: dict[str, Any] = {}
    cols = ", ".join(columns)
    for i, part in enumerate(parts):
        selects.append(
            f"SELECT {cols} FROM {table} "  # noqa: S608 - fixed names
            f"WHERE period = :p{i} AND starts_on >= :a{i} AND starts_on < :b{i}{extra}"
        )
        params.update({f"p{i}": part.period, f"a{i}": part.start, f"b{i}": part.end})
    return " UNION ALL ".join(selects), params


async def outcome_counts(
    session: AsyncSession,
    *,
    parts: list[Span],
    group_by: list[str],
    actions: list[str] | None,
    limit: int,
) -> list[dict[str, Any]]:
    """Closed flags per group over the spans: [{<group>: value, ..., "count": n}]."""
    if not parts:
        return []
    extra = " AND action = ANY(:actions)" if actions is not None else ""
    inner, params = _span_union(
        "outcome_rollup",
        [
            "starts_on",
            "country",
            "agency_org_id",
            "platform",
            "kind",
            "category",
            "action",
            "flags",
        ],
        parts,
        extra,
    )
    if actions is not None:
        params["actions"] = actions
    keys = [f"{OUTCOME_KEYS[g]} AS {g}" for g in group_by]
    positions = ", ".join(str(i + 1) for i in range(len(group_by)))
    sql = (
        f"SELECT {', '.join([*keys, 'sum(flags)::bigint AS count'])} FROM ({inner}) u"  # noqa: S608
        + (f" GROUP BY {positions}" if group_by else "")
        + " HAVING sum(flags) <> 0"
        + (f" ORDER BY {positions}" if group_by else "")
        + " LIMIT :limit"
    )
    params["limit"] = limit
    rows = await session.execute(text(sql), params)
    return [dict(r._mapping) for r in rows]


async def response_time_histograms(
    session: AsyncSession, *, parts: list[Span], group_by: list[str]
) -> list[dict[str, Any]]:
    """Histogram counts per group, measure and bucket over the spans."""
    if not parts:
        return []
    inner, params = _span_union(
        "response_time_rollup",
        ["platform", "priority", "kind", "measure", "bucket", "flags"],
        parts,
    )
    keys = [f"{RESPONSE_KEYS[g]} AS {g}" for g in group_by]
    cols = [*keys, "measure", "bucket"]
    positions = ", ".join(str(i + 1) for i in range(len(cols)))
    rows = await session.execute(
        text(
            f"SELECT {', '.join(cols)}, sum(flags)::bigint AS n FROM ({inner}) u "  # noqa: S608
            f"GROUP BY {positions} HAVING sum(flags) <> 0"
        ),
        params,
    )
    return [dict(r._mapping) for r in rows]


async def overdue_counts(session: AsyncSession, *, group_by: list[str]) -> list[dict[str, Any]]:
    """Live flags past their deadline now, per group (a paused clock is not overdue)."""
    keys = [f"f.{RESPONSE_KEYS[g]} AS {g}" for g in group_by]
    positions = ", ".join(str(i + 1) for i in range(len(group_by)))
    rows = await session.execute(
        text(
            f"SELECT {', '.join([*keys, 'count(*) AS n'])} FROM flag f "  # noqa: S608
            f"WHERE {LIVE} AND f.status IN ('open', 'acknowledged') AND f.due_at < now()"
            + (f" GROUP BY {positions}" if group_by else "")
        )
    )
    return [dict(r._mapping) for r in rows]


async def report_counts(
    session: AsyncSession, *, date_from: date, date_to: date, group_by: list[str], limit: int
) -> list[dict[str, Any]]:
    """Self-reported totals of reports whose whole period lies in [date_from, date_to)."""
    keys = [f"{REPORT_KEYS[g]} AS {g}" for g in group_by]
    positions = ", ".join(str(i + 1) for i in range(len(group_by)))
    rows = await session.execute(
        text(
            f"SELECT {', '.join([*keys, 'sum(w.count)::bigint AS count'])} "  # noqa: S608
            "FROM platform_report r JOIN platform_report_row w ON w.report_id = r.id "
            "WHERE r.period_start >= :a AND r.period_end <= :b"
            + (f" GROUP BY {positions} ORDER BY {positions}" if group_by else "")
            + " LIMIT :limit"
        ),
        {"a": date_from, "b": date_to, "limit": limit},
    )
    return [dict(r._mapping) for r in rows if r._mapping["count"] is not None]


async def organization_names(session: AsyncSession, ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    """Names of organisations by id."""
    if not ids:
        return {}
    rows = await session.execute(
        text("SELECT id, name FROM organization WHERE id = ANY(:ids)"), {"ids": ids}
    )
    return {r[0]: r[1] for r in rows}


async def agency_totals(session: AsyncSession) -> list[dict[str, Any]]:
    """Per agency: its settled totals (rollup) and its live flags (partial index)."""
    rows = await session.execute(
        text(
            f"""
            SELECT o.id, o.name, o.country,
                   coalesce(r.closed, 0) AS closed, coalesce(r.actioned, 0) AS actioned,
                   coalesce(r.withdrawn, 0) AS withdrawn, coalesce(l.live, 0) AS live
            FROM organization o
            LEFT JOIN (SELECT agency_org_id, sum(closed)::bigint AS closed,
                              sum(actioned)::bigint AS actioned,
                              sum(withdrawn)::bigint AS withdrawn
                       FROM agency_rollup GROUP BY agency_org_id) r
                   ON r.agency_org_id = o.id
            LEFT JOIN (SELECT f.agency_org_id, count(*) AS live FROM flag f WHERE {LIVE}
                       GROUP BY f.agency_org_id) l
                   ON l.agency_org_id = o.id
            WHERE o.kind = 'agency'
            ORDER BY o.country, o.name
            """  # noqa: S608 - fixed SQL
        )
    )
    return [dict(r._mapping) for r in rows]


async def platform_backlogs(session: AsyncSession) -> list[dict[str, Any]]:
    """Per platform: last feed poll and the live flags it has (partial index)."""
    rows = await session.execute(
        text(
            f"""
            SELECT o.id, o.name, o.platform, s.last_polled_at,
                   coalesce(b.undelivered, 0) AS undelivered,
                   coalesce(b.unacknowledged, 0) AS unacknowledged,
                   coalesce(b.unanswered, 0) AS unanswered,
                   coalesce(b.awaiting_agency, 0) AS awaiting_agency,
                   coalesce(b.overdue, 0) AS overdue,
                   b.oldest_unanswered_at
            FROM organization o
            LEFT JOIN org_feed_state s ON s.org_id = o.id
            LEFT JOIN (
                SELECT f.platform_org_id,
                       count(*) FILTER (WHERE f.delivered_at IS NULL) AS undelivered,
                       count(*) FILTER (WHERE f.status = 'open') AS unacknowledged,
                       count(*) FILTER (WHERE f.status IN ('open', 'acknowledged'))
                           AS unanswered,
                       count(*) FILTER (WHERE f.status = 'info_requested') AS awaiting_agency,
                       count(*) FILTER (WHERE f.status IN ('open', 'acknowledged')
                                          AND f.due_at < now()) AS overdue,
                       min(f.opened_at) FILTER (WHERE f.status IN ('open', 'acknowledged'))
                           AS oldest_unanswered_at
                FROM flag f
                WHERE {LIVE} AND f.status <> 'held'
                GROUP BY f.platform_org_id
            ) b ON b.platform_org_id = o.id
            WHERE o.kind = 'platform'
            ORDER BY o.platform
            """  # noqa: S608 - fixed SQL
        )
    )
    return [dict(r._mapping) for r in rows]


async def fold(session: AsyncSession, *, limit: int) -> int:
    """Fold one batch of committed transactions' rows into stripe 0; returns rows moved."""
    return int((await session.execute(text("SELECT fb_stats_fold(:n)"), {"n": limit})).scalar_one())
