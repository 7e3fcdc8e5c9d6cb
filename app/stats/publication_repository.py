"""Every SQL statement of published transparency reports (the table is append-only)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.kit.locks import AdvisoryLock
from app.models import PublishedReport

_t = PublishedReport


@dataclass(frozen=True)
class StoredRevision:
    """One stored revision, without its document."""

    period: str
    revision: int
    first_month: date
    last_month: date
    published_at: datetime
    kid: str
    suspensions: Any
    """The headline figure as published (an int, "<5" or "withheld")."""


@dataclass(frozen=True)
class StoredDocument:
    """One stored revision's exact bytes and signature."""

    period: str
    revision: int
    document: bytes
    signature: str


async def lock(session: AsyncSession, *, wait: bool) -> bool:
    """Take the publishing lock for this transaction (without waiting unless wait)."""
    if wait:
        await session.execute(
            text("SELECT pg_advisory_xact_lock(:k)"), {"k": int(AdvisoryLock.TRANSPARENCY_PUBLISH)}
        )
        return True
    taken = await session.execute(
        text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": int(AdvisoryLock.TRANSPARENCY_PUBLISH)}
    )
    return bool(taken.scalar())


async def first_activity_day(session: AsyncSession) -> date | None:
    """The UTC day of the first flag ever submitted (None before the first)."""
    first = (await session.execute(text("SELECT min(submitted_at) FROM flag"))).scalar()
    return None if first is None else first.date()


# The headline figure is read from the stored document itself, so the list can never
# disagree with the reports it links to.
_REVISIONS = """
SELECT period, revision, first_month, last_month, published_at, kid,
       convert_from(document, 'UTF8')::jsonb #> '{totals,suspensions}' AS suspensions
FROM transparency_report
ORDER BY first_month, period, revision
"""


async def revisions(session: AsyncSession) -> list[StoredRevision]:
    """Every stored revision, oldest period first, then by revision."""
    rows = await session.execute(text(_REVISIONS))
    return [StoredRevision(**_decoded(dict(r))) for r in rows.mappings()]


def _decoded(row: dict[str, Any]) -> dict[str, Any]:
    value = row["suspensions"]
    row["suspensions"] = json.loads(value) if isinstance(value, str) else value
    return row


async def document(
    session: AsyncSession, *, period: str, revision: int | None
) -> StoredDocument | None:
    """A period's stored revision (the newest when revision is None)."""
    query = select(_t.period, _t.revision, _t.document, _t.signature).where(_t.period == period)
    if revision is not None:
        query = query.where(_t.revision == revision)
    row = (await session.execute(query.order_by(_t.revision.desc()).limit(1))).first()
    if row is None:
        return None
    return StoredDocument(row.period, row.revision, bytes(row.document), row.signature)


async def insert_revision(
    session: AsyncSession,
    *,
    period: str,
    revision: int,
    first_month: date,
    last_month: date,
    published_at: datetime,
    document: bytes,
    signature: str,
    kid: str,
    exact_cells: dict[str, int],
) -> None:
    """Store a new revision (the primary key refuses a second one of the same number),
    with the exact finest counts it was built from (private: never selected for a route)."""
    await session.execute(
        insert(_t).values(
            period=period,
            revision=revision,
            first_month=first_month,
            last_month=last_month,
            published_at=published_at,
            document=document,
            signature=signature,
            kid=kid,
            exact_cells=exact_cells,
        )
    )


async def exact_cells(
    session: AsyncSession, *, period: str, revision: int
) -> dict[str, int] | None:
    """The exact finest counts a stored revision was built from (None if it was published
    before they were kept)."""
    query = select(_t.exact_cells).where(_t.period == period, _t.revision == revision)
    found = (await session.execute(query)).scalar()
    return None if found is None else {str(k): int(v) for k, v in found.items()}
