"""Every SQL statement of the statistics: reads of the rollups, live backlogs, folding.

How a range is read (see migration 0007_stats for how the tables are kept):

- [from, to) splits into whole months, read from a month table, and ragged edges, read
  from a day table (all of it from day tables when grouping by day). Nothing closes after
  today, so a range that runs past today reads its last month whole.
- Queries that group only by country, agency, platform, action, month or day read the
  narrow tables (a few rows per month); the others read the tables with every dimension.
- Every read adds the pending day rows of its range (stripe <> 0: written by transactions
  since the last fold, found by a partial index), so answers are exact whether or not the
  fold has run.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import fetch_records
from app.kit.days import month_start, next_month
from app.vocabulary import ACTIONED

# Group name -> column of the unified row that every source below yields. Fixed strings:
# callers choose among these names, never pass SQL.
OUTCOME_KEYS = {
    "country": "country",
    "agency": "agency_org_id",
    "platform": "platform",
    "kind": "kind",
    "category": "category",
    "action": "action",
    "month": "month",
    "day": "day",
    "ground": "ground",
    "scope": "scope",
}
STATEMENT_GROUPS = frozenset({"ground", "scope"})
"""Groups only statements of reasons have: read from statement_rollup_day."""
NARROW_GROUPS = frozenset({"country", "agency", "platform", "action", "month", "day"})
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
# The live flags that wait for the platform's answer (a contested one waits for its final).
UNANSWERED = "('open', 'acknowledged', 'reconsideration')"


@dataclass(frozen=True)
class Span:
    """Days [start, end), read from the `grain` ("day" or "month") tables."""

    grain: str
    start: date
    end: date


def spans(date_from: date, date_to: date, *, daily: bool, today: date) -> list[Span]:
    """[date_from, date_to) as whole months of the month tables plus day-table edges.

    Nothing closes after today, so when the range runs past today the month holding its
    last day is read whole from the month tables: the usual "up to now" range needs no
    day rows at its end.
    """
    if date_from >= date_to:
        return []
    if daily:
        return [Span("day", date_from, date_to)]
    m1 = date_from if date_from.day == 1 else next_month(date_from)
    m2 = month_start(date_to)
    if date_to > today and m2 < date_to:
        m2 = next_month(m2)
        date_to = m2
    if m1 >= m2:
        return [Span("day", date_from, date_to)]
    out = [Span("month", m1, m2)]
    if date_from < m1:
        out.append(Span("day", date_from, m1))
    if m2 < date_to:
        out.append(Span("day", m2, date_to))
    return out


_OUTCOME_COLUMNS = "day, month, country, agency_org_id, platform, kind, category, action, flags"
_FULL = "country, agency_org_id, platform, kind, category, action, flags"
_NARROW = "country, agency_org_id, platform, NULL::text, NULL::text, action, flags"
_PENDING_OUTCOMES = (
    f"SELECT day, fb_stats_month(day), {_FULL} FROM outcome_rollup_day "  # noqa: S608
    "WHERE stripe <> 0 AND day >= :a{i} AND day < :b{i}"
)


def _outcome_sources(
    parts: list[Span], *, narrow: bool, action_filter: str
) -> tuple[str, dict[str, Any]]:
    """UNION ALL of the rows covering the spans, each as (_OUTCOME_COLUMNS)."""
    selects: list[str] = []
    params: dict[str, Any] = {}
    for i, part in enumerate(parts):
        params[f"a{i}"], params[f"b{i}"] = part.start, part.end
        if part.grain == "month":
            table, cols = (
                ("outcome_rollup_narrow_month", _NARROW)
                if narrow
                else ("outcome_rollup_month", _FULL)
            )
            selects.append(
                f"SELECT NULL::date, month, {cols} FROM {table} "  # noqa: S608 - fixed names
                f"WHERE month >= :a{i} AND month < :b{i}"
            )
            selects.append(_PENDING_OUTCOMES.format(i=i))
        elif narrow:
            selects.append(
                f"SELECT day, fb_stats_month(day), {_NARROW} "  # noqa: S608 - fixed names
                f"FROM outcome_rollup_narrow_day WHERE day >= :a{i} AND day < :b{i}"
            )
            selects.append(_PENDING_OUTCOMES.format(i=i))
        else:
            # The full day table holds folded and pending rows alike.
            selects.append(
                f"SELECT day, fb_stats_month(day), {_FULL} "  # noqa: S608 - fixed names
                f"FROM outcome_rollup_day WHERE day >= :a{i} AND day < :b{i}"
            )
    union = " UNION ALL ".join(f"({sql}{action_filter})" for sql in selects)
    return union, params


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
    action_filter = " AND action = ANY(:actions)" if actions is not None else ""
    columns = _OUTCOME_COLUMNS
    if set(group_by) & STATEMENT_GROUPS:
        inner, params = _statement_sources(
            parts, by_scope="scope" in group_by, action_filter=action_filter
        )
        columns = _STATEMENT_COLUMNS
    else:
        inner, params = _outcome_sources(
            parts, narrow=set(group_by) <= NARROW_GROUPS, action_filter=action_filter
        )
    if actions is not None:
        params["actions"] = actions
    keys = [f"{OUTCOME_KEYS[g]} AS {g}" for g in group_by]
    positions = ", ".join(str(i + 1) for i in range(len(group_by)))
    sql = (
        f"SELECT {', '.join([*keys, 'sum(flags) AS count'])} "  # noqa: S608
        f"FROM ({inner}) AS u ({columns})"
        + (f" GROUP BY {positions}" if group_by else "")
        + " HAVING sum(flags) <> 0"
        + (f" ORDER BY {positions}" if group_by else "")
        + " LIMIT :limit"
    )
    params["limit"] = limit
    return await fetch_records(session, sql, params)


_STATEMENT_COLUMNS = f"{_OUTCOME_COLUMNS.removesuffix(', flags')}, ground, scope, flags"


def _statement_sources(
    parts: list[Span], *, by_scope: bool, action_filter: str
) -> tuple[str, dict[str, Any]]:
    """The statement rollup's rows covering the spans, each as (_STATEMENT_COLUMNS): a
    statement once (scope ''), or once per entry of its territorial scope when `by_scope`.
    The table is kept by day only, so a month span is read as its days."""
    selects: list[str] = []
    params: dict[str, Any] = {"scoped": by_scope}
    for i, part in enumerate(parts):
        params[f"a{i}"], params[f"b{i}"] = part.start, part.end
        selects.append(
            f"SELECT day, fb_stats_month(day), country, agency_org_id, platform, kind, "  # noqa: S608
            f"category, action, ground, scope, flags FROM statement_rollup_day "
            f"WHERE day >= :a{i} AND day < :b{i} AND (scope <> '') = :scoped{action_filter}"
        )
    return " UNION ALL ".join(f"({sql})" for sql in selects), params


async def contest_counts(
    session: AsyncSession,
    *,
    date_from: date,
    date_to: date,
    group_by: list[str],
    actions: list[str] | None,
) -> list[dict[str, Any]]:
    """Contested and overturned flags per group, by the day of their first outcome in
    [date_from, date_to): [{<group>: value, ..., "contested": n, "overturned": n}]. Contests
    are rare, so the day rows (folded and pending alike) are read whole."""
    keys = [f"{OUTCOME_KEYS[g]} AS {g}" for g in group_by]
    positions = ", ".join(str(i + 1) for i in range(len(group_by)))
    counts = [
        "coalesce(sum(flags) FILTER (WHERE measure = 'contested'), 0) AS contested",
        "coalesce(sum(flags) FILTER (WHERE measure = 'overturned'), 0) AS overturned",
    ]
    sql = (
        f"SELECT {', '.join([*keys, *counts])} "  # noqa: S608 - fixed names
        "FROM (SELECT *, fb_stats_month(day) AS month FROM contest_rollup_day "
        "WHERE day >= :a AND day < :b"
        + (" AND action = ANY(:actions)" if actions is not None else "")
        + ") AS u"
        + (f" GROUP BY {positions}" if group_by else "")
    )
    params: dict[str, Any] = {"a": date_from, "b": date_to}
    if actions is not None:
        params["actions"] = actions
    return await fetch_records(session, sql, params)


_RT_COLUMNS = "platform, priority, kind, measure, bucket, flags"


async def response_time_histograms(
    session: AsyncSession, *, parts: list[Span], group_by: list[str]
) -> list[dict[str, Any]]:
    """Histogram counts per group, measure and bucket over the spans."""
    if not parts:
        return []
    selects: list[str] = []
    params: dict[str, Any] = {}
    # Grouped by one dimension or none, whole months come from the table summed over the
    # others (the value in its own column, NULL in the rest); otherwise from the full one.
    dimension = group_by[0] if len(group_by) == 1 else "all" if not group_by else None
    if dimension is not None:
        params["dimension"] = dimension
        by_cols = ", ".join(
            "value" if d == dimension else "NULL::text" for d in ("platform", "priority", "kind")
        )
    for i, part in enumerate(parts):
        params[f"a{i}"], params[f"b{i}"] = part.start, part.end
        if part.grain == "day":
            selects.append(
                f"SELECT {_RT_COLUMNS} FROM response_time_rollup_day "  # noqa: S608
                f"WHERE day >= :a{i} AND day < :b{i}"
            )
            continue
        if dimension is not None:
            selects.append(
                f"SELECT {by_cols}, measure, bucket, flags "  # noqa: S608 - fixed names
                "FROM response_time_rollup_month_by "
                f"WHERE month >= :a{i} AND month < :b{i} AND dimension = :dimension"
            )
        else:
            selects.append(
                f"SELECT {_RT_COLUMNS} FROM response_time_rollup_month "  # noqa: S608
                f"WHERE month >= :a{i} AND month < :b{i}"
            )
        selects.append(
            f"SELECT {_RT_COLUMNS} FROM response_time_rollup_day "  # noqa: S608
            f"WHERE stripe <> 0 AND day >= :a{i} AND day < :b{i}"
        )
    keys = [f"{RESPONSE_KEYS[g]} AS {g}" for g in group_by]
    cols = [*keys, "measure", "bucket"]
    positions = ", ".join(str(i + 1) for i in range(len(cols)))
    return await fetch_records(
        session,
        f"SELECT {', '.join(cols)}, sum(flags) AS n "  # noqa: S608
        f"FROM ({' UNION ALL '.join(selects)}) AS u ({_RT_COLUMNS}) "
        f"GROUP BY {positions} HAVING sum(flags) <> 0",
        params,
    )


async def overdue_counts(session: AsyncSession, *, group_by: list[str]) -> list[dict[str, Any]]:
    """Live flags past their deadline now, per group (a paused clock is not overdue)."""
    keys = [f"f.{RESPONSE_KEYS[g]} AS {g}" for g in group_by]
    positions = ", ".join(str(i + 1) for i in range(len(group_by)))
    rows = await session.execute(
        text(
            f"SELECT {', '.join([*keys, 'count(*) AS n'])} FROM flag f "  # noqa: S608
            f"WHERE {LIVE} AND f.status IN {UNANSWERED} AND f.due_at < now()"
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


async def db_today(session: AsyncSession) -> date:
    """Today (UTC) by the database's clock, the clock every closed_at was taken from."""
    return (
        await session.execute(text("SELECT CAST(now() AT TIME ZONE 'UTC' AS date)"))
    ).scalar_one()


async def organization_names(session: AsyncSession, ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    """Names of organisations by id."""
    if not ids:
        return {}
    rows = await session.execute(
        text("SELECT id, name FROM organization WHERE id = ANY(:ids)"), {"ids": ids}
    )
    return {r[0]: r[1] for r in rows}


async def agency_totals(session: AsyncSession) -> list[dict[str, Any]]:
    """Per agency: closed and actioned (narrow months and pending days), withdrawn, and
    its live flags (partial index) but those in reconsideration, which count as closed with
    their first outcome."""
    rows = await session.execute(
        text(
            f"""
            SELECT o.id, o.name, o.country,
                   coalesce(c.closed, 0) AS closed, coalesce(c.actioned, 0) AS actioned,
                   coalesce(w.withdrawn, 0) AS withdrawn, coalesce(l.live, 0) AS live
            FROM organization o
            LEFT JOIN (
                SELECT agency_org_id, sum(flags) AS closed,
                       coalesce(sum(flags) FILTER (WHERE action = ANY(:actioned)), 0)
                           AS actioned
                FROM (SELECT agency_org_id, action, flags FROM outcome_rollup_narrow_month
                      UNION ALL
                      SELECT agency_org_id, action, flags FROM outcome_rollup_day
                      WHERE stripe <> 0) u
                GROUP BY agency_org_id
            ) c ON c.agency_org_id = o.id
            LEFT JOIN (SELECT agency_org_id, sum(flags) AS withdrawn FROM withdrawal_rollup
                       GROUP BY agency_org_id) w
                   ON w.agency_org_id = o.id
            LEFT JOIN (SELECT f.agency_org_id, count(*) AS live FROM flag f
                       WHERE {LIVE} AND f.status <> 'reconsideration'
                       GROUP BY f.agency_org_id) l
                   ON l.agency_org_id = o.id
            WHERE o.kind = 'agency'
            ORDER BY o.country, o.name
            """  # noqa: S608 - fixed SQL
        ),
        {"actioned": list(ACTIONED)},
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
                       count(*) FILTER (WHERE f.status IN {UNANSWERED}) AS unanswered,
                       count(*) FILTER (WHERE f.status = 'info_requested') AS awaiting_agency,
                       count(*) FILTER (WHERE f.status IN {UNANSWERED}
                                          AND f.due_at < now()) AS overdue,
                       -- A contested flag has waited for its final answer since its contest.
                       min(coalesce(f.contested_at, f.opened_at))
                           FILTER (WHERE f.status IN {UNANSWERED}) AS oldest_unanswered_at
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
    """Fold one batch of committed transactions' rows into stripe 0 (the statement and
    contest rollups' too); returns the most rows moved from one table."""
    folded = await session.execute(
        text(
            "SELECT greatest(fb_stats_fold(:n), fb_stats_statement_fold(:n), "
            "fb_stats_contest_fold(:n))"
        ),
        {"n": limit},
    )
    return int(folded.scalar_one())
