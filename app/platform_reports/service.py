"""The rules of platform reports: one report per platform and period, replaced on
resubmission; periods of a platform never overlap, so totals are never counted twice."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.auth.principal import Principal
from app.errors import Conflict, Forbidden, NotFound, field_error
from app.kit.clock import rfc3339
from app.kit.pagination import decode_time_id_cursor, keyset_page
from app.platform_reports import repository as repo
from app.platform_reports.schemas import MAX_PERIOD_DAYS, PlatformReportIn

EARLIEST = date(2000, 1, 1)


def _platform_of(principal: Principal) -> tuple[uuid.UUID, str]:
    if principal.kind != "platform" or not principal.platform:
        raise Forbidden("Only a platform can submit or read its reports")
    return principal.org_id, principal.platform


def _check(data: PlatformReportIn, today: date) -> None:
    start, end = data.period_start, data.period_end
    if end <= start:
        raise field_error("period_end", "must be after period_start (it is exclusive)")
    if (end - start).days > MAX_PERIOD_DAYS:
        raise field_error("period_end", f"a period may cover at most {MAX_PERIOD_DAYS} days")
    if start < EARLIEST:
        raise field_error("period_start", f"must be {EARLIEST.isoformat()} or later")
    if start > today:
        raise field_error("period_start", "must not be in the future")
    seen: dict[tuple[Any, ...], int] = {}
    for i, row in enumerate(data.rows):
        key = (row.country, row.category, row.action, row.source)
        if key in seen:
            raise field_error(
                f"rows.{i}",
                f"repeats rows.{seen[key]} (same country, category, action and source)",
            )
        seen[key] = i


def _summary(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(row["id"]),
        "platform": row["platform"],
        "period_start": row["period_start"].isoformat(),
        "period_end": row["period_end"].isoformat(),
        "revision": int(row["revision"]),
        "submitted_at": rfc3339(row["submitted_at"]),
        "updated_at": rfc3339(row["updated_at"]),
        "row_count": int(row["row_count"]),
        "total": int(row["total"]),
        "own_detection_total": int(row["own_detection_total"]),
    }


async def submit_report(
    *, session: AsyncSession, principal: Principal, data: PlatformReportIn
) -> tuple[dict[str, Any], bool]:
    """Store the platform's totals for a period; the same period again replaces them.

    Returns (report, created). A different period that overlaps a stored one is 409: the
    platform resubmits that exact period to correct it.
    """
    org_id, platform = _platform_of(principal)
    _check(data, datetime.now(UTC).date())
    start, end = data.period_start, data.period_end
    await repo.lock_platform(session, org_id)
    clash = await repo.find_overlapping(session, platform_org_id=org_id, start=start, end=end)
    if clash is not None:
        raise Conflict(
            f"Overlaps your report for {clash['period_start'].isoformat()} to "
            f"{clash['period_end'].isoformat()}; resubmit exactly that period to replace it",
            existing_report_id=str(clash["id"]),
        )
    report_id = await repo.find_same_period(session, platform_org_id=org_id, start=start, end=end)
    created = report_id is None
    if report_id is None:
        report_id = await repo.insert_report(
            session,
            platform_org_id=org_id,
            platform=platform,
            start=start,
            end=end,
            client_id=principal.client_id,
        )
        revision = 1
    else:
        revision = await repo.replace_rows_of(
            session, report_id=report_id, client_id=principal.client_id
        )
    rows = [r.model_dump() for r in data.rows]
    await repo.insert_rows(session, report_id=report_id, rows=rows)
    await audit.record(
        session=session,
        actor=principal,
        action="platform_report.submitted" if created else "platform_report.replaced",
        object_type="platform_report",
        object_id=report_id,
        data={
            "platform": platform,
            "period_start": start.isoformat(),
            "period_end": end.isoformat(),
            "revision": revision,
            "rows": len(rows),
            "total": sum(r["count"] for r in rows),
            "own_detection_total": sum(r["count"] for r in rows if r["source"] == "own_detection"),
        },
    )
    return await get_report(session=session, principal=principal, report_id=report_id), created


async def get_report(
    *, session: AsyncSession, principal: Principal, report_id: uuid.UUID
) -> dict[str, Any]:
    """One of the platform's own reports with its rows (404 for anyone else's)."""
    org_id, _ = _platform_of(principal)
    row = await repo.get_own(session, platform_org_id=org_id, report_id=report_id)
    if row is None:
        raise NotFound("No such report")
    rows = await repo.rows_of(session, report_id)
    return {**_summary(row), "rows": [{**r, "count": int(r["count"])} for r in rows]}


async def list_reports(
    *, session: AsyncSession, principal: Principal, cursor: str | None, limit: int
) -> tuple[list[dict[str, Any]], str | None]:
    """A page of the platform's reports (without rows), newest period first."""
    org_id, _ = _platform_of(principal)
    rows = await repo.list_own(
        session, platform_org_id=org_id, after=decode_time_id_cursor(cursor), limit=limit + 1
    )
    # Reports page on (period_start, id); the cursor carries the day as its midnight UTC.
    page, nxt = keyset_page(
        rows, limit, lambda r: (datetime.combine(r["period_start"], time(0), tzinfo=UTC), r["id"])
    )
    return [_summary(r) for r in page], nxt
