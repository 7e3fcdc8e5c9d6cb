"""Every SQL statement of platform reports."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

_SUMMARY = """
    r.id, r.platform, r.period_start, r.period_end, r.revision, r.submitted_at, r.updated_at,
    (SELECT count(*) FROM platform_report_row w WHERE w.report_id = r.id) AS row_count,
    (SELECT coalesce(sum(w.count), 0) FROM platform_report_row w WHERE w.report_id = r.id)
        AS total,
    (SELECT coalesce(sum(w.count), 0) FROM platform_report_row w
     WHERE w.report_id = r.id AND w.source = 'own_detection') AS own_detection_total
"""


async def lock_platform(session: AsyncSession, platform_org_id: uuid.UUID) -> None:
    """Serialise report submissions of one platform (overlap check, then write)."""
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended('platform_report ' || :o, 0))"),
        {"o": str(platform_org_id)},
    )


async def find_same_period(
    session: AsyncSession, *, platform_org_id: uuid.UUID, start: date, end: date
) -> uuid.UUID | None:
    """The platform's report for exactly this period, if any."""
    return (
        await session.execute(
            text(
                "SELECT id FROM platform_report WHERE platform_org_id = :o "
                "AND period_start = :s AND period_end = :e"
            ),
            {"o": platform_org_id, "s": start, "e": end},
        )
    ).scalar()


async def find_overlapping(
    session: AsyncSession, *, platform_org_id: uuid.UUID, start: date, end: date
) -> dict[str, Any] | None:
    """Another of the platform's reports whose period overlaps [start, end) but differs."""
    row = (
        (
            await session.execute(
                text(
                    "SELECT id, period_start, period_end FROM platform_report "
                    "WHERE platform_org_id = :o AND period_start < :e AND period_end > :s "
                    "AND NOT (period_start = :s AND period_end = :e) "
                    "ORDER BY period_start LIMIT 1"
                ),
                {"o": platform_org_id, "s": start, "e": end},
            )
        )
        .mappings()
        .first()
    )
    return dict(row) if row else None


async def insert_report(
    session: AsyncSession,
    *,
    platform_org_id: uuid.UUID,
    platform: str,
    start: date,
    end: date,
    client_id: uuid.UUID,
) -> uuid.UUID:
    """A new report header; returns its id."""
    return (
        await session.execute(
            text(
                "INSERT INTO platform_report (platform_org_id, platform, period_start, "
                "period_end, submitted_by_client_id) VALUES (:o, :p, :s, :e, :c) RETURNING id"
            ),
            {"o": platform_org_id, "p": platform, "s": start, "e": end, "c": client_id},
        )
    ).scalar_one()


async def replace_rows_of(
    session: AsyncSession, *, report_id: uuid.UUID, client_id: uuid.UUID
) -> int:
    """Start a new revision of a report: drop its rows; returns the new revision."""
    await session.execute(
        text("DELETE FROM platform_report_row WHERE report_id = :r"), {"r": report_id}
    )
    return int(
        (
            await session.execute(
                text(
                    "UPDATE platform_report SET revision = revision + 1, updated_at = now(), "
                    "submitted_by_client_id = :c WHERE id = :r RETURNING revision"
                ),
                {"r": report_id, "c": client_id},
            )
        ).scalar_one()
    )


async def insert_rows(
    session: AsyncSession, *, report_id: uuid.UUID, rows: list[dict[str, Any]]
) -> None:
    """Store a report's rows in one statement, numbered in request order."""
    await session.execute(
        text(
            """
            INSERT INTO platform_report_row (report_id, row_no, country, category, action,
                                             source, count)
            SELECT :r, t.n, t.country, t.category, t.action, t.source, t.count
            FROM unnest(CAST(:countries AS text[]), CAST(:categories AS text[]),
                        CAST(:actions AS text[]), CAST(:sources AS text[]),
                        CAST(:counts AS bigint[]))
                 WITH ORDINALITY AS t (country, category, action, source, count, n)
            """
        ),
        {
            "r": report_id,
            "countries": [r["country"] for r in rows],
            "categories": [r["category"] for r in rows],
            "actions": [r["action"] for r in rows],
            "sources": [r["source"] for r in rows],
            "counts": [r["count"] for r in rows],
        },
    )


async def get_own(
    session: AsyncSession, *, platform_org_id: uuid.UUID, report_id: uuid.UUID
) -> dict[str, Any] | None:
    """One of the platform's reports (summary), None if absent or another platform's."""
    row = (
        (
            await session.execute(
                text(
                    f"SELECT {_SUMMARY} FROM platform_report r "  # noqa: S608 - fixed SQL
                    "WHERE r.id = :id AND r.platform_org_id = :o"
                ),
                {"id": report_id, "o": platform_org_id},
            )
        )
        .mappings()
        .first()
    )
    return dict(row) if row else None


async def rows_of(session: AsyncSession, report_id: uuid.UUID) -> list[dict[str, Any]]:
    """A report's rows in the order they were submitted."""
    rows = await session.execute(
        text(
            "SELECT country, category, action, source, count FROM platform_report_row "
            "WHERE report_id = :r ORDER BY row_no"
        ),
        {"r": report_id},
    )
    return [dict(r._mapping) for r in rows]


async def list_own(
    session: AsyncSession,
    *,
    platform_org_id: uuid.UUID,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> list[dict[str, Any]]:
    """The platform's reports, newest period first, keyset-paginated on (period_start, id)."""
    cond = "AND (r.period_start, r.id) < (CAST(:ts AS date), :id)" if after else ""
    params: dict[str, Any] = {"o": platform_org_id, "limit": limit}
    if after:
        params["ts"], params["id"] = after[0].date(), after[1]
    rows = await session.execute(
        text(
            f"SELECT {_SUMMARY} FROM platform_report r "  # noqa: S608 - fixed SQL
            f"WHERE r.platform_org_id = :o {cond} "
            "ORDER BY r.period_start DESC, r.id DESC LIMIT :limit"
        ),
        params,
    )
    return [dict(r._mapping) for r in rows]
