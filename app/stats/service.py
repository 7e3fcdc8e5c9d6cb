"""The statistics dashboards read: grouped outcome counts, self-reported platform totals,
response times, agency and platform health.

Every function takes keyword arguments and returns plain dicts and lists, so the HTTP
routes and the public transparency page share them. Counts come from the rollups that a
trigger keeps exact in the same transaction as each outcome (migration 0007_stats), so
they always equal a direct COUNT(*) over the flags, and cost the same at a thousand flags
or ten million.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.errors import field_error
from app.kit.clock import rfc3339, utc_now
from app.kit.days import add_months, month_label, parse_utc_day, utc_midnight_day
from app.stats import percentiles
from app.stats import repository as repo
from app.vocabulary import OUTCOME_ACTIONS
from app.webhooks import service as webhooks

log = logging.getLogger(__name__)

OUTCOME_GROUPS = (
    "country",
    "agency",
    "platform",
    "kind",
    "category",
    "action",
    "month",
    "day",
    "ground",
    "scope",
)
STATEMENT_GROUPS = frozenset({"ground", "scope"})
"""Groups read from the statements of reasons (only outcomes that carry one)."""
REPORT_GROUPS = ("platform", "country", "category", "action", "source", "month")
RESPONSE_GROUPS = ("platform", "priority", "kind")
ACTIONS = OUTCOME_ACTIONS

MAX_RANGE_DAYS = 3660
"""Longest range a query may cover (ten years)."""
MAX_DAILY_RANGE_DAYS = 366
"""Longest range when grouping by day."""
MAX_ROWS = 10_000
"""Most groups one answer may hold; more is a 422 asking for a narrower question."""


def parse_day(value: str | None, *, field: str) -> date | None:
    """A range bound from a query string (YYYY-MM-DD or RFC 3339 at midnight UTC); else 422."""
    if value is None or value.strip() == "":
        return None
    try:
        return parse_utc_day(value)
    except ValueError as exc:
        raise field_error(field, str(exc)) from None


def default_range(today: date | None = None) -> tuple[date, date]:
    """The twelve calendar months up to and including today: [first of month - 11, tomorrow)."""
    today = today or utc_now().date()
    return add_months(today, -11), today + timedelta(days=1)


def resolve_range(
    date_from: date | None, date_to: date | None, *, today: date | None = None
) -> tuple[date, date]:
    """Fill in missing bounds and check the range (from < to, at most MAX_RANGE_DAYS)."""
    default_from, default_to = default_range(today)
    end = date_to or default_to
    start = date_from or (default_from if date_to is None else end - timedelta(days=365))
    return _check_range(start, end)


def parse_group_by(
    values: str | Iterable[str] | None, allowed: Sequence[str], *, field: str = "group_by"
) -> list[str]:
    """A comma-separated (or repeated) list of names, de-duplicated; unknown names 422."""
    if values is None:
        return []
    items = [values] if isinstance(values, str) else list(values)
    out: list[str] = []
    for item in items:
        for name in item.split(","):
            name = name.strip()
            if not name:
                continue
            if name not in allowed:
                raise field_error(
                    field, f"unknown value {name[:40]!r}; use any of {', '.join(allowed)}"
                )
            if name not in out:
                out.append(name)
    return out


def _as_day(value: date, field: str) -> date:
    """A date, or an aware datetime at midnight UTC, as a date."""
    if isinstance(value, datetime):
        try:
            return utc_midnight_day(value)
        except ValueError as exc:
            raise field_error(field, str(exc)) from None
    return value


def _check_range(date_from: date, date_to: date) -> tuple[date, date]:
    start, end = _as_day(date_from, "from"), _as_day(date_to, "to")
    if start >= end:
        raise field_error("to", "must be after from (to is exclusive)")
    if (end - start).days > MAX_RANGE_DAYS:
        raise field_error("to", f"the range may cover at most {MAX_RANGE_DAYS} days")
    return start, end


def _question(
    group_by: str | Sequence[str], allowed: Sequence[str], date_from: date, date_to: date
) -> tuple[list[str], date, date]:
    """The groups and the checked [start, end) of a statistics question."""
    groups = parse_group_by(group_by, allowed)
    start, end = _check_range(date_from, date_to)
    return groups, start, end


def _too_many(rows: list[dict[str, Any]]) -> None:
    if len(rows) > MAX_ROWS:
        raise field_error(
            "group_by",
            f"more than {MAX_ROWS} groups: narrow the range or group by fewer fields",
        )


def _format_key(name: str, value: Any) -> Any:
    if name == "month" and isinstance(value, date):
        return month_label(value)
    if name == "day" and isinstance(value, date):
        return value.isoformat()
    return value


async def outcome_counts(
    *,
    session: AsyncSession,
    date_from: date,
    date_to: date,
    group_by: str | Sequence[str],
    actions: Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    """Closed flags in [date_from, date_to) (UTC days of closed_at), grouped.

    Each row has the group keys, "count" (first outcomes: a contested flag counts with the
    outcome it was first closed with), and "contested" and "overturned" (of those flags,
    how many their agency contested, and how many the reconsidered outcome overturned;
    None when grouped by a statement's ground or scope);
    month is "YYYY-MM", day "YYYY-MM-DD", and
    agency {"id", "name"}. `actions` keeps only those outcomes (e.g. suspensions).
    Groups are ordered by their keys; zero counts are left out.
    """
    groups, start, end = _question(group_by, OUTCOME_GROUPS, date_from, date_to)
    if "day" in groups and (end - start).days > MAX_DAILY_RANGE_DAYS:
        raise field_error(
            "group_by", f"grouping by day needs a range of at most {MAX_DAILY_RANGE_DAYS} days"
        )
    wanted = None if actions is None else parse_group_by(actions, ACTIONS, field="action")
    rows = await repo.outcome_counts(
        session,
        parts=repo.spans(start, end, daily="day" in groups, today=await repo.db_today(session)),
        group_by=groups,
        actions=wanted,
        limit=MAX_ROWS + 1,
    )
    _too_many(rows)
    # Contests are kept by the flag's first outcome, not by statement: grouped by a
    # statement's ground or scope, they are not given (null).
    by_statement = not STATEMENT_GROUPS.isdisjoint(groups)
    contests = (
        []
        if by_statement
        else await repo.contest_counts(
            session, date_from=start, date_to=end, group_by=groups, actions=wanted
        )
    )
    # Every contested flag has its first outcome in the same group, so its group is a row.
    contested = {tuple(c[g] for g in groups): c for c in contests}
    names: dict[Any, str] = {}
    if "agency" in groups:
        names = await repo.organization_names(session, sorted({r["agency"] for r in rows}))
    out = []
    for row in rows:
        item: dict[str, Any] = {}
        for g in groups:
            if g == "agency":
                item[g] = {"id": str(row[g]), "name": names.get(row[g])}
            else:
                item[g] = _format_key(g, row[g])
        item["count"] = int(row["count"])
        found = contested.get(tuple(row[g] for g in groups), {})
        item["contested"] = None if by_statement else int(found.get("contested", 0))
        item["overturned"] = None if by_statement else int(found.get("overturned", 0))
        out.append(item)
    return out


async def platform_report_counts(
    *,
    session: AsyncSession,
    date_from: date,
    date_to: date,
    group_by: str | Sequence[str],
) -> list[dict[str, Any]]:
    """Platforms' self-reported totals, grouped (platform, country, category, action,
    source, month).

    A report counts when its whole period lies in [date_from, date_to); `month` is the
    month its period starts in. Rows without a country have country None.
    """
    groups, start, end = _question(group_by, REPORT_GROUPS, date_from, date_to)
    rows = await repo.report_counts(
        session, date_from=start, date_to=end, group_by=groups, limit=MAX_ROWS + 1
    )
    _too_many(rows)
    return [
        {**{g: _format_key(g, row[g]) for g in groups}, "count": int(row["count"])} for row in rows
    ]


async def response_times(
    *,
    session: AsyncSession,
    date_from: date,
    date_to: date,
    group_by: str | Sequence[str],
) -> list[dict[str, Any]]:
    """Median and 90th percentile of time to acknowledge and to outcome, and overdue now.

    group_by is any of platform, priority, kind (e.g. "platform" or "priority"). Times
    run from when the flag reached the platform (opened_at); an acknowledgement counts in
    the range by its day, an outcome by the day it closed. Percentiles come from
    histograms, within 9.05% of the exact value (app/stats/percentiles.py). "overdue" is
    live flags past their deadline now, whatever the range.
    """
    groups, start, end = _question(group_by, RESPONSE_GROUPS, date_from, date_to)
    today = await repo.db_today(session)
    hist_rows = await repo.response_time_histograms(
        session, parts=repo.spans(start, end, daily=False, today=today), group_by=groups
    )
    overdue_rows = await repo.overdue_counts(session, group_by=groups)
    histograms: dict[tuple[Any, ...], dict[str, dict[int, int]]] = {}
    for row in hist_rows:
        key = tuple(row[g] for g in groups)
        per_measure = histograms.setdefault(key, {"acknowledge": {}, "outcome": {}})
        per_measure[row["measure"]][int(row["bucket"])] = int(row["n"])
    overdue = {tuple(r[g] for g in groups): int(r["n"]) for r in overdue_rows}
    keys = sorted(set(histograms) | set(overdue), key=lambda k: tuple(str(v) for v in k))
    out = []
    for key in keys:
        per_measure = histograms.get(key, {"acknowledge": {}, "outcome": {}})
        out.append(
            {
                **dict(zip(groups, key, strict=True)),
                "acknowledge": percentiles.summary(per_measure["acknowledge"]),
                "outcome": percentiles.summary(per_measure["outcome"]),
                "overdue": overdue.get(key, 0),
            }
        )
    return out


async def agency_health(*, session: AsyncSession) -> list[dict[str, Any]]:
    """Per agency, all time: flags sent, how they ended, and the share that led to action.

    flags_sent = closed + withdrawn + live (every flag is in exactly one of these), and
    action_share = actioned / closed, where actioned means suspended, content removed or
    restricted: a trusted flagger's accuracy. None until a flag of the agency has closed.
    """
    out = []
    for row in await repo.agency_totals(session):
        closed, actioned = int(row["closed"]), int(row["actioned"])
        withdrawn, live = int(row["withdrawn"]), int(row["live"])
        out.append(
            {
                "agency": {"id": str(row["id"]), "name": row["name"]},
                "country": row["country"],
                "flags_sent": closed + withdrawn + live,
                "live": live,
                "closed": closed,
                "withdrawn": withdrawn,
                "actioned": actioned,
                "action_share": round(actioned / closed, 4) if closed else None,
            }
        )
    return out


async def platform_health(*, session: AsyncSession) -> list[dict[str, Any]]:
    """Per platform, now: last feed poll and the backlog of live flags it has.

    undelivered: not yet handed over by feed; unacknowledged: status open; unanswered: no
    outcome and not waiting on the agency (open or acknowledged), or a contested outcome
    awaiting its final answer (reconsideration); awaiting_agency: a question is pending;
    overdue: unanswered past due_at.
    """
    hooks = await webhooks.webhook_statuses(session=session)
    return [
        {
            "platform": row["platform"],
            "organization": {"id": str(row["id"]), "name": row["name"]},
            "last_feed_poll_at": rfc3339(row["last_polled_at"]),
            "undelivered": int(row["undelivered"]),
            "unacknowledged": int(row["unacknowledged"]),
            "unanswered": int(row["unanswered"]),
            "awaiting_agency": int(row["awaiting_agency"]),
            "overdue": int(row["overdue"]),
            "oldest_unanswered_at": rfc3339(row["oldest_unanswered_at"]),
            "webhook": hooks.get(row["id"]),
        }
        for row in await repo.platform_backlogs(session)
    ]


async def fold_stripes(*, sessionmaker: async_sessionmaker[AsyncSession], batch: int = 5000) -> int:
    """Fold the rollup rows of committed transactions into one row per key.

    Keeps the tables (and every range query) small; sums are unchanged. Safe with several
    processes: one folds at a time (fb_stats_fold takes AdvisoryLock.STATS_FOLD), the
    others find the lock taken and return.
    """
    total = 0
    while True:
        async with sessionmaker() as session, session.begin():
            moved = await repo.fold(session, limit=batch)
        total += moved
        if moved < batch:
            return total
