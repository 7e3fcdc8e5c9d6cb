"""Publishing transparency reports: which periods are due, and building, freezing, signing.

The public sees nothing but these reports. A period (app/stats/period.py) is due once it
has closed and the grace period for the platforms' late self-reports has passed; its
report is then built once from the exact statistics, suppressed with its monthly breakdown
as linked sums (app/stats/assembly.py), written as canonical JSON, signed
(app/stats/signed_report.py) and stored append-only. Nothing is ever edited: a correction
is a new revision beside the old one, made only on an operator's request, only when the
document differs, and only when the change itself reveals no count under five
(app/stats/revisions.py: every finest cell changes by 0 or at least five, all one way).

Publishing runs under `AdvisoryLock.TRANSPARENCY_PUBLISH`, so any number of server
processes may run the periodic job: one publishes, the others skip, and the primary key
(period, revision) refuses a second copy anyway. A period that would share a month with a
published report of another granularity (after FLAGBRIDGE_TRANSPARENCY_PERIOD changed) is
never published: two overlapping reports could be differenced.
"""

from __future__ import annotations

import functools
import json
import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import anyio
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.audit import service as audit
from app.auth.keys import KeyRing
from app.config import Settings
from app.errors import Conflict, NotFound, field_error
from app.kit import days
from app.kit.canonical import canonical_json
from app.kit.clock import utc_now
from app.stats import assembly, revisions, signed_report
from app.stats import publication_repository as repo
from app.stats.period import Period, containing, following, parse_name
from app.stats.public_schemas import PublishedReportRef, TransparencyIndex, TransparencyReport

log = logging.getLogger(__name__)

JOB_ACTOR = "system:transparency-publish"
"""How the periodic job's publications are attributed in the audit log."""
# What a correction may change without being a correction: when it was built, its number.
_NOT_CONTENT = ("generated_at", "revision")


@dataclass(frozen=True)
class Policy:
    """Which periods are published and how long after they close."""

    granularity: str = "half"
    grace: timedelta = timedelta(days=30)

    @classmethod
    def from_settings(cls, settings: Settings) -> Policy:
        """The policy the operator configured."""
        return cls(settings.transparency_period, timedelta(days=settings.transparency_grace_days))

    def is_due(self, period: Period, *, now: datetime) -> bool:
        """Whether the period has closed and its grace period has passed."""
        return days.utc_day_start(period.date_to) + self.grace <= now


@dataclass(frozen=True)
class Published:
    """A period's report after publishing: its newest revision, and whether it is new."""

    period: str
    revision: int
    created: bool

    def out(self) -> dict[str, Any]:
        """As the CLI prints it."""
        return {"period": self.period, "revision": self.revision, "created": self.created}


def _due_periods(policy: Policy, *, first_day: date | None, now: datetime) -> list[Period]:
    """Every due period from the one holding the first flag on."""
    if first_day is None:
        return []
    out = []
    period = containing(first_day, policy.granularity)
    while policy.is_due(period, now=now):
        out.append(period)
        period = following(period)
    return out


async def publish_due(
    *,
    sessionmaker: async_sessionmaker[AsyncSession],
    ring: KeyRing,
    policy: Policy,
    now: datetime | None = None,
) -> list[Published]:
    """The periodic job: publish every due period not yet published (none if another
    process is publishing)."""
    async with sessionmaker() as session, session.begin():
        if not await repo.lock(session, wait=False):
            return []
        return await _publish_missing(session, ring, policy, now or utc_now(), JOB_ACTOR)


async def publish_due_in(
    *,
    session: AsyncSession,
    ring: KeyRing,
    policy: Policy,
    actor_label: str,
    now: datetime | None = None,
) -> list[Published]:
    """Publish every due period not yet published, in the caller's transaction (waits for
    another publisher)."""
    await repo.lock(session, wait=True)
    return await _publish_missing(session, ring, policy, now or utc_now(), actor_label)


async def _publish_missing(
    session: AsyncSession, ring: KeyRing, policy: Policy, now: datetime, actor_label: str
) -> list[Published]:
    stored = await repo.revisions(session)
    names = {r.period for r in stored}
    out = []
    for period in _due_periods(policy, first_day=await repo.first_activity_day(session), now=now):
        if period.name in names or _overlapped(period, stored):
            continue
        out.append(
            await _publish(session, ring, period, previous=None, now=now, actor_label=actor_label)
        )
    return out


def _overlapped(period: Period, stored: list[repo.StoredRevision]) -> str | None:
    """The name of a published report of another period sharing a month with it."""
    for r in stored:
        if r.period != period.name and period.overlaps(r.first_month, r.last_month):
            return r.period
    return None


async def publish_period(
    *,
    session: AsyncSession,
    ring: KeyRing,
    policy: Policy,
    name: str,
    revise: bool,
    actor_label: str,
    now: datetime | None = None,
) -> Published:
    """Publish one period's report (the operator's command). With revise, an already
    published period gets a new revision, but only if its document would differ."""
    now = now or utc_now()
    period = parse_name(name)
    if period is None:
        raise field_error("period", "a half-year (2026-H1), a quarter (2026-Q3) or a year (2026)")
    if not policy.is_due(period, now=now):
        raise Conflict(
            f"{period.name} is not published before "
            f"{days.utc_day_start(period.date_to) + policy.grace:%Y-%m-%d} (the period must "
            "close and its grace period pass)"
        )
    await repo.lock(session, wait=True)
    stored = await repo.revisions(session)
    mine = [r.revision for r in stored if r.period == period.name]
    if mine and not revise:
        return Published(period.name, mine[-1], False)
    if other := _overlapped(period, stored):
        raise Conflict(f"{period.name} overlaps the published report {other}")
    previous = mine[-1] if mine else None
    return await _publish(
        session, ring, period, previous=previous, now=now, actor_label=actor_label
    )


async def _publish(
    session: AsyncSession,
    ring: KeyRing,
    period: Period,
    *,
    previous: int | None,
    now: datetime,
    actor_label: str,
) -> Published:
    """Build, freeze, sign and store one revision (none if nothing changed since previous;
    refused if the change would reveal a small count, see app/stats/revisions.py)."""
    revision = (previous or 0) + 1
    figures = await assembly.collect(session=session, period=period)
    report = await anyio.to_thread.run_sync(
        functools.partial(
            assembly.assemble, figures, period=period, revision=revision, generated_at=now
        )
    )
    document = canonical_json(report.model_dump(mode="json", by_alias=True))
    cells = revisions.exact_cells(
        outcomes=figures.outcomes,
        self_reported=figures.self_reported,
        response_times=figures.response_times,
        months=period.months,
    )
    if previous is not None:
        old = await repo.document(session, period=period.name, revision=previous)
        assert old is not None  # read from the same table, under the publishing lock
        if _content(old.document) == _content(document):
            return Published(period.name, previous, False)
        await _check_revision(session, period.name, previous, cells, old.document, document)
    await repo.insert_revision(
        session,
        period=period.name,
        revision=revision,
        first_month=period.first,
        last_month=period.last,
        published_at=now,
        document=document,
        signature=signed_report.sign(ring, document),
        kid=ring.signing_kid,
        exact_cells=cells,
    )
    await audit.record(
        session=session,
        actor=None,
        actor_label=actor_label,
        action="transparency.published",
        object_type="transparency_report",
        object_id=f"{period.name}/{revision}",
        data={"period": period.name, "revision": revision, "kid": ring.signing_kid},
    )
    return Published(period.name, revision, True)


async def _check_revision(
    session: AsyncSession,
    period: str,
    previous: int,
    cells: dict[str, int],
    old_document: bytes,
    document: bytes,
) -> None:
    """Refuse a correction whose change would itself reveal a count under five."""
    old = await repo.exact_cells(session, period=period, revision=previous)
    why: str | None
    if old is None:
        why = (
            f"revision {previous} of {period} was published before its exact counts were "
            "kept, so whether a correction would reveal a small change cannot be checked"
        )
    else:
        why = revisions.refusal(
            old, cells, old_report=json.loads(old_document), new_report=json.loads(document)
        )
    if why is not None:
        # Only the period: the refusal itself must not put figures into the logs.
        log.warning("transparency correction refused", extra={"period": period})
        raise revisions.UnsafeRevision(f"{period}: {why}")


def _content(document: bytes) -> dict[str, Any]:
    """A document without what every build changes."""
    loaded = json.loads(document)
    return {k: v for k, v in loaded.items() if k not in _NOT_CONTENT}


@dataclass(frozen=True)
class PublicView:
    """What the public routes show: the index of published reports, and one report."""

    index: TransparencyIndex
    report: TransparencyReport | None
    """The report asked for (by default the newest), None before the first is published."""


def _ref(r: repo.StoredRevision) -> PublishedReportRef:
    period = parse_name(r.period)
    assert period is not None  # only valid names are ever stored
    return PublishedReportRef(
        period=period.out(),
        revision=r.revision,
        published_at=r.published_at,
        kid=r.kid,
        url=f"/transparency/reports/{r.period}.json?revision={r.revision}",
        suspensions=r.suspensions,
    )


async def _newest_report(session: AsyncSession, period: str) -> TransparencyReport | None:
    found = await repo.document(session, period=period, revision=None)
    return None if found is None else TransparencyReport.model_validate_json(found.document)


async def public_view(*, session: AsyncSession, period: str | None = None) -> PublicView:
    """Every published revision, the newest report, and the named period's newest report
    (404 when that period has none: the current period, for one, never has)."""
    stored = await repo.revisions(session)
    latest = await _newest_report(session, stored[-1].period) if stored else None
    report = latest
    if period is not None and (latest is None or period != latest.period.id):
        report = await _newest_report(session, period)
        if report is None:
            raise NotFound(f"no report of {period} is published")
    return PublicView(TransparencyIndex(reports=[_ref(r) for r in stored], latest=latest), report)


async def signed_envelope(
    *, session: AsyncSession, period: str, revision: int | None
) -> tuple[repo.StoredDocument, bytes]:
    """A stored revision (the newest by default) and its envelope's exact bytes; 404 if
    that period or revision was never published."""
    found = await repo.document(session, period=period, revision=revision)
    if found is None:
        what = f"revision {revision} of " if revision is not None else ""
        raise NotFound(f"no {what}report of {period} is published")
    return found, signed_report.envelope(found.document, found.signature)
