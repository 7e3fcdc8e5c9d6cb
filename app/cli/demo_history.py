"""Two years of history for the demo world, so dashboards look like a real report.

Flags: for each of the 24 full months before the current one, a few hundred to a couple of
thousand closed flags across the nine member states, the three platforms and the eight
categories, with plausible response times (urgent flags and removal orders are answered
faster) and a small share withdrawn. They are inserted set-based, in one statement, with
backdated submitted/acknowledged/closed times and their history events; the statistics
rollups fill through the same trigger that counts live outcomes (migration 0007_stats), so
the dashboards read them exactly as they would read real traffic.

Platform reports: each platform's own monthly totals, submitted through the same service
as POST /v1/platform-reports. Twitter's are shaped on its published figures: the first
and third half-years of the history total 274,460 and 166,513 suspensions for promotion of
terrorism (its Jul-Dec 2017 and Jul-Dec 2018 reports), 93% found by its own tools; the
half-years between and after follow the same decline. Facebook and YouTube report less,
with more content removals. These are shapes for a demo, not claims about any platform.

Idempotent: an audit entry marks the history as created, and a second run does nothing.
"""

from __future__ import annotations

import json
import random
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.cli.demo_contests import draw_extras, write_extras
from app.cli.demo_flags import (
    LEGAL_BASIS,
    PREFIXES,
    URGENT_CATEGORIES,
    WITHDRAW_REASON,
    pick_category,
    pick_outcome,
    principal_for,
)
from app.flags import repository as flags_repo
from app.kit.clock import utc_now
from app.kit.days import full_months_before, month_bounds, next_month
from app.kit.locks import AdvisoryLock
from app.models import ApiClient, Organization
from app.models.audit_entry import AuditEntry
from app.platform_reports import service as reports
from app.platform_reports.schemas import PlatformReportIn, ReportRowIn
from app.stats import repository as stats_repo
from app.vocabulary import FLAG_KINDS, PRIORITIES, Category

MARKER = "demo.history_created"
MONTHS = 24
# How much each member state flags (share of the region's flags).
COUNTRY_WEIGHTS = {
    "ID": 24,
    "PH": 14,
    "MY": 12,
    "AU": 12,
    "TH": 9,
    "MM": 8,
    "SG": 8,
    "NZ": 7,
    "BN": 6,
}
PLATFORM_WEIGHTS = {"twitter": 55, "facebook": 30, "youtube": 15}
# Twitter's suspensions per half-year: published H2 2017, interpolated, published H2 2018,
# extrapolated (the same decline of about 22% per half-year).
TWITTER_HALVES = (274_460, 213_775, 166_513, 129_700)
TWITTER_OWN_SHARE = 0.93
OTHER_PLATFORMS = {
    # platform: (share of Twitter's monthly total, own-detection share, suspension share)
    "facebook": (0.42, 0.99, 0.45),
    "youtube": (0.26, 0.90, 0.35),
}
CATEGORY_SHARES: dict[Category, float] = {
    "propaganda": 0.42,
    "recruitment": 0.20,
    "glorification": 0.14,
    "incitement": 0.09,
    "instruction": 0.06,
    "financing": 0.04,
    "threat": 0.01,
    "other": 0.04,
}
DeadlineSpans = dict[tuple[str, str, str], timedelta]


def history_months(today: date) -> list[date]:
    """The first days of the months the history covers, oldest first."""
    return full_months_before(today, MONTHS)


async def _marked(session: AsyncSession) -> bool:
    found = await session.scalar(select(AuditEntry.seq).where(AuditEntry.action == MARKER).limit(1))
    return found is not None


async def _demo_orgs(session: AsyncSession, names: list[str]) -> list[dict[str, Any]]:
    """The named organisations with their first API client (the one the demo made)."""
    rows = await session.execute(
        select(Organization, ApiClient)
        .join(ApiClient, ApiClient.organization_id == Organization.id)
        .where(Organization.name.in_(names))
        .order_by(Organization.id, ApiClient.created_at)
        .distinct(Organization.id)
    )
    return [
        {
            "id": org.id,
            "kind": org.kind,
            "name": org.name,
            "country": org.country,
            "platform": org.platform,
            "client_id": client.id,
            "scopes": client.scopes,
        }
        for org, client in rows.tuples()
    ]


async def _deadline_spans(session: AsyncSession, countries: list[str]) -> DeadlineSpans:
    """Each (country, kind, priority)'s deadline span, from the flags domain's own rule.

    The rule answers "the deadline of a flag whose clock starts now"; within one
    transaction now() is fixed, so subtracting it leaves the policy's span.
    """
    now = (await session.execute(select(func.now()))).scalar_one()
    spans: DeadlineSpans = {}
    for cc in countries:
        for kind in FLAG_KINDS:
            for priority in PRIORITIES:
                shape = {"country": cc, "kind": kind, "priority": priority}
                spans[(cc, kind, priority)] = await flags_repo.due_at_from_now(session, shape) - now
    return spans


@dataclass(frozen=True, slots=True)
class _World:
    """What every historical flag is drawn against."""

    agencies: dict[str, dict[str, Any]]
    platforms: dict[str, dict[str, Any]]
    deadlines: DeadlineSpans
    now: datetime


def _flag_rows(rng: random.Random, months: list[date], world: _World) -> list[dict[str, Any]]:
    """Every historical flag, generated from a fixed seed (the same world every time)."""
    out: list[dict[str, Any]] = []
    for i, start in enumerate(months):
        # The working group ramps up: about 200 flags a month at first, 650 at the end,
        # with bursts (e.g. after an attack) in a few months.
        count = int((200 + 450 * i / (len(months) - 1)) * rng.uniform(0.85, 1.15))
        if rng.random() < 0.15:
            count = int(count * rng.uniform(1.4, 1.9))
        for n in range(count):
            row = _flag_row(rng, start, n, world)
            if row is not None:
                out.append(row)
    return out


def _flag_row(rng: random.Random, start: date, n: int, world: _World) -> dict[str, Any] | None:
    """The n-th settled flag of a month (None if it would settle in the future)."""
    cc = rng.choices(list(COUNTRY_WEIGHTS), weights=list(COUNTRY_WEIGHTS.values()))[0]
    slug = rng.choices(list(PLATFORM_WEIGHTS), weights=list(PLATFORM_WEIGHTS.values()))[0]
    category, summary = pick_category(rng)
    kind = "removal_order" if rng.random() < 0.1 else "referral"
    urgent = category in URGENT_CATEGORIES or rng.random() < 0.12
    priority = "urgent" if urgent else "standard"
    month_start, month_end = month_bounds(start)
    submitted = month_start + (month_end - month_start) * rng.uniform(0, 1)
    # Minutes to acknowledge: faster for urgent flags and removal orders.
    scale = 25 if urgent or kind == "removal_order" else 150
    ack = submitted + timedelta(minutes=rng.lognormvariate(0, 0.9) * scale)
    done = ack + timedelta(minutes=rng.lognormvariate(0, 1.0) * (45 if urgent else 400))
    if done >= world.now:
        return None
    withdrawn = rng.random() < 0.03
    code = f"{start:%Y%m}-{n:04d}"
    return {
        "agency": world.agencies[cc]["id"],
        "client": world.agencies[cc]["client_id"],
        "country": cc,
        "platform": slug,
        "platform_org": world.platforms[slug]["id"],
        "handle": f"{rng.choice(PREFIXES)}_{start:%Y%m}_{n:04d}",
        "kind": kind,
        "category": category,
        "priority": priority,
        "legal_basis": LEGAL_BASIS[cc],
        "summary": summary,
        "evidence": json.dumps(
            [
                {
                    "url": f"https://evidence.{cc.lower()}.example.gov/cases/{code}/capture.png",
                    "captured_at": submitted.isoformat(),
                }
            ]
        ),
        "ref": f"{cc}-CT-{code}",
        "status": "withdrawn" if withdrawn else "closed",
        "submitted": submitted,
        "due": submitted + world.deadlines[(cc, kind, priority)],
        "acked": None if withdrawn else ack,
        "closed": None if withdrawn else done,
        "withdrawn": done if withdrawn else None,
        "action": None if withdrawn else pick_outcome(rng),
    }


FLAG_COLUMNS = {
    "agency": "uuid",
    "client": "uuid",
    "country": "text",
    "platform": "text",
    "platform_org": "uuid",
    "handle": "text",
    "kind": "text",
    "category": "text",
    "priority": "text",
    "legal_basis": "text",
    "summary": "text",
    "evidence": "text",
    "ref": "text",
    "status": "text",
    "submitted": "timestamptz",
    "due": "timestamptz",
    "acked": "timestamptz",
    "closed": "timestamptz",
    "withdrawn": "timestamptz",
    "action": "text",
}


async def _insert_flags(session: AsyncSession, rows: list[dict[str, Any]]) -> int:
    """Accounts, flags and their history events in one statement (the trigger counts them)."""
    unnest = ", ".join(f"CAST(:{c} AS {t}[])" for c, t in FLAG_COLUMNS.items())
    params: dict[str, Any] = {c: [r[c] for r in rows] for c in FLAG_COLUMNS}
    params["reason"] = WITHDRAW_REASON
    result = await session.execute(
        text(
            f"""
            WITH src AS (
                SELECT * FROM unnest({unnest}) AS s ({", ".join(FLAG_COLUMNS)})
            ), acc AS (
                INSERT INTO account (platform, handle, created_at)
                SELECT platform, handle, submitted FROM src
                RETURNING id, platform, handle
            ), ins AS (
                INSERT INTO flag (agency_org_id, submitted_by_client_id, country, platform,
                                  platform_org_id, account_id, account_ref, kind, category,
                                  priority, legal_basis, summary, evidence, external_ref, status,
                                  submitted_at, opened_at, due_at, delivered_at,
                                  acknowledged_at, closed_at, withdrawn_at, withdraw_reason,
                                  outcome_action, actioned_at, updated_at)
                SELECT s.agency, s.client, s.country, s.platform, s.platform_org, acc.id,
                       jsonb_build_object('id', NULL, 'handle', s.handle, 'url', NULL),
                       s.kind, s.category, s.priority, s.legal_basis, s.summary,
                       CAST(s.evidence AS jsonb), s.ref, s.status,
                       s.submitted, s.submitted, s.due,
                       coalesce(s.acked, s.withdrawn) - interval '1 minute',
                       s.acked, s.closed, s.withdrawn,
                       CASE WHEN s.withdrawn IS NOT NULL THEN CAST(:reason AS text) END,
                       s.action, s.closed, coalesce(s.closed, s.withdrawn)
                FROM src s JOIN acc ON acc.platform = s.platform AND acc.handle = s.handle
                RETURNING id, agency_org_id, platform_org_id, submitted_at, delivered_at,
                          acknowledged_at, closed_at, withdrawn_at, outcome_action
            ), events AS (
                INSERT INTO flag_event (flag_id, type, at, actor_org_id, data)
                SELECT ins.id, e.type, e.at, e.actor, e.data
                FROM ins CROSS JOIN LATERAL (VALUES
                    ('submitted', ins.submitted_at, ins.agency_org_id, '{{}}'::jsonb),
                    ('delivered', ins.delivered_at, ins.platform_org_id, '{{}}'::jsonb),
                    ('acknowledged', ins.acknowledged_at, ins.platform_org_id, '{{}}'::jsonb),
                    ('outcome', ins.closed_at, ins.platform_org_id,
                     jsonb_build_object('action', ins.outcome_action)),
                    ('withdrawn', ins.withdrawn_at, ins.agency_org_id,
                     jsonb_build_object('reason', CAST(:reason AS text)))
                ) AS e (type, at, actor, data)
                WHERE e.at IS NOT NULL
            )
            SELECT count(*) FROM ins
            """  # noqa: S608 - column names are the fixed FLAG_COLUMNS; values are bound
        ),
        params,
    )
    return int(result.scalar_one())


def _split(total: int, weights: list[float], rng: random.Random) -> list[int]:
    """total split by weights (jittered), summing exactly to total."""
    jittered = [w * rng.uniform(0.9, 1.1) for w in weights]
    scale = total / sum(jittered)
    parts = [int(w * scale) for w in jittered]
    parts[0] += total - sum(parts)
    return parts


def twitter_monthly_totals(rng: random.Random) -> list[int]:
    """24 monthly totals: each half-year sums exactly to its TWITTER_HALVES figure."""
    out: list[int] = []
    for half in TWITTER_HALVES:
        out += _split(half, [1.0] * 6, rng)
    return out


def _report_rows(
    rng: random.Random, total: int, own_share: float, suspension_share: float
) -> list[ReportRowIn]:
    own = round(total * own_share)
    other = total - own
    rows: list[ReportRowIn] = []
    cats = list(CATEGORY_SHARES)
    for source, amount in (("own_detection", own), ("other", other)):
        suspended = round(amount * suspension_share)
        for action, part in (
            ("account_suspended", suspended),
            ("content_removed", amount - suspended),
        ):
            if part <= 0:
                continue
            if source == "other" and action == "account_suspended":
                # Reports from outside FlagBridge, by country where the platform knows it.
                by_country = _split(part, [*COUNTRY_WEIGHTS.values(), 60.0], rng)
                for cc, n in zip([*COUNTRY_WEIGHTS, None], by_country, strict=True):
                    if n:
                        rows.append(
                            ReportRowIn.model_validate(
                                {
                                    "country": cc,
                                    "category": "propaganda",
                                    "action": action,
                                    "count": n,
                                    "source": source,
                                }
                            )
                        )
                continue
            for category, n in zip(
                cats, _split(part, list(CATEGORY_SHARES.values()), rng), strict=True
            ):
                if n:
                    rows.append(
                        ReportRowIn.model_validate(
                            {"category": category, "action": action, "count": n, "source": source}
                        )
                    )
    return rows


async def _submit_reports(
    session: AsyncSession,
    rng: random.Random,
    months: list[date],
    platforms: dict[str, dict[str, Any]],
) -> int:
    twitter = twitter_monthly_totals(rng)
    submitted = 0
    for slug, org in platforms.items():
        principal = principal_for(org)
        for i, start in enumerate(months):
            if slug == "twitter":
                total, own, suspended = twitter[i], TWITTER_OWN_SHARE, 1.0
            else:
                share, own, suspended = OTHER_PLATFORMS[slug]
                total = round(twitter[i] * share * rng.uniform(0.85, 1.15))
            data = PlatformReportIn(
                period_start=start,
                period_end=next_month(start),
                rows=_report_rows(rng, total, own, suspended),
            )
            await reports.submit_report(session=session, principal=principal, data=data)
            submitted += 1
    return submitted


async def create_history(
    session: AsyncSession, *, agency_names: list[str], platform_names: list[str], seed: int = 2017
) -> dict[str, int]:
    """Add the demo's two years of flags and platform reports, once; {} if already there."""
    await session.execute(select(func.pg_advisory_xact_lock(int(AdvisoryLock.DEMO_HISTORY))))
    if await _marked(session):
        return {}
    orgs = await _demo_orgs(session, [*agency_names, *platform_names])
    agencies = {o["country"]: o for o in orgs if o["kind"] == "agency"}
    platforms = {o["platform"]: o for o in orgs if o["kind"] == "platform"}
    if set(agencies) != set(COUNTRY_WEIGHTS) or set(platforms) != set(PLATFORM_WEIGHTS):
        return {}
    rng = random.Random(seed)  # noqa: S311 - demo data, not security
    now = utc_now()
    months = history_months(now.date())
    world = _World(agencies, platforms, await _deadline_spans(session, list(agencies)), now)
    rows = _flag_rows(rng, months, world)
    # Their own generator, so the flags and reports stay those of the demo before contests.
    extras = draw_extras(random.Random(seed + 1), rows, now, world.deadlines)  # noqa: S311
    flags = await _insert_flags(session, rows)
    written = await write_extras(session, extras)
    report_count = await _submit_reports(session, rng, months, platforms)
    # Fold the history's rollup rows now rather than on the server's first fold.
    await stats_repo.fold(session, limit=len(months) * 100_000)
    summary = {
        "history_flags": flags,
        **written,
        "platform_reports": report_count,
        "months": len(months),
    }
    await audit.record(
        session=session,
        actor=None,
        actor_label="demo",
        action=MARKER,
        object_type="demo",
        object_id=uuid.UUID(int=0),
        data={**summary, "from": months[0].isoformat(), "to": next_month(months[-1]).isoformat()},
    )
    return summary
