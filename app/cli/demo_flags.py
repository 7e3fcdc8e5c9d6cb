"""Sample flags for the demo world: a few hundred referrals across categories and statuses.

The shapes follow the domain notes (most flags end in a suspension; removal orders are a
minority; some are withdrawn or wait on a platform's question; a couple of accounts are
under deconfliction holds). Every flag and every transition goes through the same service
functions as the API, as the demo organisation's own client (a `Principal` built from its
real client and scopes), so the history, feed events and audit entries are real. Only the
times are then moved into the last two months, by `backdate_sample_flags`.
"""

from __future__ import annotations

import random
import sys
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.flags import service as flags
from app.flags.schemas import AccountRef, FlagCreate
from app.holds import service as holds
from app.holds.schemas import HoldCreate
from app.kit.clock import utc_now
from app.vocabulary import Category, OutcomeAction

LEGAL_BASIS = {
    "ID": "Law No. 5 of 2018 on the Eradication of Criminal Acts of Terrorism; "
    "MCI Regulation 5/2020",
    "AU": "Online Safety Act 2021 (Cth); Criminal Code Act 1995 (Cth), Division 101",
    "BN": "Anti-Terrorism Order 2011",
    "MY": "Penal Code, Chapter VIA (offences relating to terrorism)",
    "MM": "Counter-Terrorism Law 2014",
    "NZ": "Films, Videos, and Publications Classification Act 1993 (objectionable material)",
    "PH": "Anti-Terrorism Act of 2020 (Republic Act No. 11479), Section 9",
    "SG": "Internal Security Act 1960; Online Safety (Miscellaneous Amendments) Act 2022",
    "TH": "Computer Crime Act B.E. 2550 as amended B.E. 2560, Section 14",
}
# How often the demo's agencies flag each category (weight) and what such a flag says.
# Keyed by the vocabulary's words; tests check every category and outcome has a weight
# (but account_withheld_in_country, which needs a statement of reasons the bulk history
# does not write).
CATEGORY_PROFILE: dict[Category, tuple[int, str]] = {
    "propaganda": (30, "Account republishes official propaganda videos of a proscribed group."),
    "recruitment": (22, "Account invites followers to private channels to recruit fighters."),
    "glorification": (14, "Account praises the perpetrators of a recent attack as martyrs."),
    "incitement": (12, "Account calls on followers to attack named places of worship."),
    "instruction": (8, "Account shares a manual for assembling improvised explosive devices."),
    "financing": (6, "Account solicits cryptocurrency donations for a designated group."),
    "threat": (3, "Account posts a specific, time-bound threat against a public event."),
    "other": (5, "Account coordinates harassment of a journalist reporting on extremism."),
}
OUTCOME_WEIGHTS: dict[OutcomeAction, int] = {
    "account_suspended": 55,
    "content_removed": 20,
    "account_restricted": 8,
    "no_violation": 10,
    "account_not_found": 4,
    "insufficient_information": 3,
}
URGENT_CATEGORIES = ("threat", "instruction")
PREFIXES = [
    "dawah_channel",
    "ummah_updates",
    "bayan_relay",
    "nashir_mirror",
    "ghuraba_media",
    "shuhada_voice",
    "khilafah_daily",
    "sahwa_news",
    "ribat_post",
    "tawhid_front",
]
WITHDRAW_REASON = "Account already removed by the platform."
HELD_ACCOUNTS = (("AU", "twitter", "ribat_post_77"), ("SG", "youtube", "sahwa_news_12"))


def pick_category(rng: random.Random) -> tuple[Category, str]:
    """A category by the demo's weights, and its summary."""
    category = rng.choices(list(CATEGORY_PROFILE), [w for w, _ in CATEGORY_PROFILE.values()])[0]
    return category, CATEGORY_PROFILE[category][1]


def pick_outcome(rng: random.Random) -> OutcomeAction:
    """An outcome by the demo's weights."""
    return rng.choices(list(OUTCOME_WEIGHTS), list(OUTCOME_WEIGHTS.values()))[0]


def principal_for(org: dict[str, Any]) -> Principal:
    """The Principal a token of this demo organisation's client would carry."""
    return Principal(
        client_id=uuid.UUID(str(org["client_id"])),
        org_id=uuid.UUID(str(org["id"])),
        kind=org["kind"],
        country=org["country"],
        platform=org["platform"],
        scopes=frozenset(org["scopes"]),
    )


@dataclass(frozen=True, slots=True)
class DemoTimes:
    """When a sample flag was submitted, acknowledged (or asked about) and settled."""

    flag_id: uuid.UUID
    submitted: datetime
    answered: datetime
    settled: datetime


def _progress(done: int, total: int) -> None:
    if sys.stderr.isatty():
        width = 30
        filled = width * done // total
        sys.stderr.write(
            f"\r  sample flags [{'#' * filled}{'.' * (width - filled)}] {done}/{total}"
        )
        if done == total:
            sys.stderr.write("\n")
        sys.stderr.flush()


async def _place_holds(
    session: AsyncSession, agencies: list[dict[str, Any]], now: datetime
) -> None:
    """Two investigations under deconfliction holds (each later gets another agency's flag)."""
    for holder_cc, slug, handle in HELD_ACCOUNTS:
        holder = next(a for a in agencies if a["country"] == holder_cc)
        await holds.create_hold(
            session=session,
            principal=principal_for(holder),
            data=HoldCreate(
                platform=slug,
                account=AccountRef(handle=handle),
                reason="Joint investigation in progress: do not alert the account holder.",
                expires_at=now + timedelta(days=45),
            ),
        )


def _draw_shape(rng: random.Random) -> dict[str, Any]:
    """What a sample flag is about: category, kind, priority and a made-up handle."""
    category, summary = pick_category(rng)
    kind = "removal_order" if rng.random() < 0.1 else "referral"
    urgent = category in URGENT_CATEGORIES or rng.random() < 0.12
    return {
        "category": category,
        "summary": summary,
        "kind": kind,
        "priority": "urgent" if urgent else "standard",
        # At most 15 characters: a valid handle on every platform's profile (Twitter's).
        "handle": f"{rng.choice(PREFIXES)[:10]}_{rng.randint(1, 9999)}",
    }


def _flag_body(
    rng: random.Random,
    i: int,
    agency: dict[str, Any],
    platform: str,
    shape: dict[str, Any],
    now: datetime,
) -> FlagCreate:
    cc = agency["country"]
    return FlagCreate.model_validate(
        {
            "platform": platform,
            "account": {"handle": shape["handle"], "url": None, "id": None},
            "kind": shape["kind"],
            "category": shape["category"],
            "priority": shape["priority"],
            "legal_basis": LEGAL_BASIS[cc],
            "summary": shape["summary"],
            "evidence": [
                {
                    "url": f"https://evidence.{cc.lower()}.example.gov/cases/{i + 1}/capture.png",
                    "sha256": f"{rng.getrandbits(256):064x}",
                    "captured_at": (now - timedelta(days=rng.randint(1, 60))).isoformat(),
                    "description": "Screenshot of the post with timestamp",
                }
            ],
            "external_ref": f"{cc}-CT-{2026}-{i + 1:05d}",
        }
    )


async def _respond(
    session: AsyncSession,
    rng: random.Random,
    flag: dict[str, Any],
    platform: Principal,
    agency: Principal,
) -> str:
    """Move a fresh flag along as the platform and agency would; returns its status."""
    flag_id = uuid.UUID(flag["id"])
    roll = rng.random()
    if flag["status"] == "held":
        return str(flag["status"])
    if roll < 0.42:
        await flags.acknowledge(session=session, principal=platform, flag_id=flag_id)
        closed, _ = await flags.record_outcome(
            session=session,
            principal=platform,
            flag_id=flag_id,
            action=pick_outcome(rng),
            note=None,
            actioned_at=None,
        )
        return str(closed["status"])
    if roll < 0.62:
        flag = await flags.acknowledge(session=session, principal=platform, flag_id=flag_id)
    elif roll < 0.70:
        flag = await flags.request_info(
            session=session,
            principal=platform,
            flag_id=flag_id,
            question="Can you share the specific posts and their dates?",
        )
    elif roll < 0.76:
        flag = await flags.withdraw(
            session=session, principal=agency, flag_id=flag_id, reason=WITHDRAW_REASON
        )
    return str(flag["status"])


def _spread(rng: random.Random, flag_id: uuid.UUID, now: datetime) -> DemoTimes:
    """Plausible times within the last two months for one sample flag."""
    submitted = now - timedelta(days=rng.uniform(0.2, 60))
    answered = submitted + timedelta(minutes=rng.uniform(5, 600))
    return DemoTimes(flag_id, submitted, answered, answered + timedelta(hours=rng.uniform(0.5, 40)))


async def create_sample_flags(
    session: AsyncSession, orgs: list[dict[str, Any]], *, count: int = 300, seed: int = 2018
) -> dict[str, int]:
    """Create `count` flags with outcomes, questions, withdrawals and two holds."""
    rng = random.Random(seed)  # noqa: S311 - demo data, not security
    agencies = [o for o in orgs if o["kind"] == "agency"]
    platforms = [o for o in orgs if o["kind"] == "platform"]
    by_slug = {p["platform"]: p for p in platforms}
    now = utc_now()
    stats: dict[str, int] = {}
    await _place_holds(session, agencies, now)
    times: list[DemoTimes] = []
    for i in range(count):
        agency = rng.choice(agencies)
        platform = by_slug["twitter"] if rng.random() < 0.6 else rng.choice(platforms)
        shape = _draw_shape(rng)
        if i < len(HELD_ACCOUNTS) * 2:
            # The first flags go to the held accounts, from agencies other than the holder.
            holder_cc, slug, shape["handle"] = HELD_ACCOUNTS[i % len(HELD_ACCOUNTS)]
            platform = by_slug[slug]
            agency = next(a for a in agencies if a["country"] not in (holder_cc, "MM"))
        body = _flag_body(rng, i, agency, platform["platform"], shape, now)
        (result,) = await flags.submit_flags(
            session=session, principal=principal_for(agency), flags=[body], request_id="demo"
        )
        if result["status"] != 201:
            stats["skipped"] = stats.get("skipped", 0) + 1
            continue
        flag = result["body"]
        status = await _respond(session, rng, flag, principal_for(platform), principal_for(agency))
        stats[status] = stats.get(status, 0) + 1
        times.append(_spread(rng, uuid.UUID(flag["id"]), now))
        _progress(i + 1, count)
    await backdate_sample_flags(session, times)
    return stats


async def backdate_sample_flags(session: AsyncSession, times: list[DemoTimes]) -> None:
    """Move the sample flags' times into the past: the demo's one back-dating step.

    Why a step at all: the services stamp every change with the transaction's `now()` (one
    clock for a flag and its history), so a demo made in one transaction would show 300
    flags submitted and answered in the same second. PostgreSQL cannot run a transaction
    at another `now()`, so the demo creates everything honestly through the services and
    then, in this one set-based statement, moves only the sample flags' own times: the flag
    row (keeping each flag's deadline span) and its history events.

    What it leaves alone, on purpose: audit entries (they are hash-chained and say truly
    when the demo made each change; `flagbridge audit verify` keeps passing), and feed
    events (the feed is a delivery log read in commit order, and was delivered now). The
    statistics rollups stay exact because `closed_at` moves through an UPDATE of `flag`,
    which the rollup trigger counts out of the old day and into the new one.
    """
    if not times:
        return
    await session.execute(
        text(
            """
            WITH t AS (
                SELECT * FROM unnest(CAST(:ids AS uuid[]), CAST(:s AS timestamptz[]),
                                     CAST(:a AS timestamptz[]), CAST(:c AS timestamptz[]))
                    AS t (id, s, a, c)
            ), moved AS (
                UPDATE flag SET
                    due_at = t.s + (due_at - submitted_at),
                    opened_at = CASE WHEN opened_at IS NULL THEN NULL ELSE t.s END,
                    submitted_at = t.s,
                    delivered_at = CASE WHEN acknowledged_at IS NULL THEN NULL ELSE t.a END,
                    acknowledged_at = CASE WHEN acknowledged_at IS NULL THEN NULL ELSE t.a END,
                    info_requested_at = CASE WHEN info_requested_at IS NULL THEN NULL
                                             ELSE t.a END,
                    closed_at = CASE WHEN closed_at IS NULL THEN NULL ELSE t.c END,
                    actioned_at = CASE WHEN actioned_at IS NULL THEN NULL ELSE t.c END,
                    withdrawn_at = CASE WHEN withdrawn_at IS NULL THEN NULL ELSE t.c END
                FROM t WHERE flag.id = t.id
                RETURNING flag.id
            )
            UPDATE flag_event SET at = CASE type
                WHEN 'submitted' THEN t.s WHEN 'held' THEN t.s
                WHEN 'acknowledged' THEN t.a WHEN 'info_requested' THEN t.a
                ELSE t.c END
            FROM t WHERE flag_event.flag_id = t.id
            """
        ),
        {
            "ids": [t.flag_id for t in times],
            "s": [t.submitted for t in times],
            "a": [t.answered for t in times],
            "c": [t.settled for t in times],
        },
    )
