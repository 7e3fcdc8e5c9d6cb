"""Sample flags for the demo world: a few hundred referrals across categories and statuses.

The shapes follow the domain notes (most flags end in a suspension; removal orders are a
minority; some are withdrawn or wait on a platform's question; a couple of accounts are
under deconfliction holds). Timestamps are spread over the last two months. Everything
goes through the same SQL function and services as the API, so the history, feed events
and audit entries are real.
"""

from __future__ import annotations

import json
import random
import sys
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.flags import service as flags
from app.flags.schemas import AccountRef
from app.holds import service as holds
from app.holds.schemas import HoldCreate

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
CATEGORIES = [
    ("propaganda", 30, "Account republishes official propaganda videos of a proscribed group."),
    ("recruitment", 22, "Account invites followers to private channels to recruit fighters."),
    ("glorification", 14, "Account praises the perpetrators of a recent attack as martyrs."),
    ("incitement", 12, "Account calls on followers to attack named places of worship."),
    ("instruction", 8, "Account shares a manual for assembling improvised explosive devices."),
    ("financing", 6, "Account solicits cryptocurrency donations for a designated group."),
    ("threat", 3, "Account posts a specific, time-bound threat against a public event."),
    ("other", 5, "Account coordinates harassment of a journalist reporting on extremism."),
]
OUTCOMES = [
    ("account_suspended", 55),
    ("content_removed", 20),
    ("account_restricted", 8),
    ("no_violation", 10),
    ("account_not_found", 4),
    ("insufficient_information", 3),
]
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


def _weighted(rng: random.Random, options: list[tuple[Any, ...]]) -> tuple[Any, ...]:
    return rng.choices(options, weights=[o[1] for o in options])[0]


def _principal(org: dict[str, Any]) -> Principal:
    kind = org["kind"]
    scopes = {
        "agency": {"flags:submit", "flags:read", "feed:read"},
        "platform": {"feed:read", "flags:respond"},
    }[kind]
    return Principal(
        client_id=uuid.UUID(org["client_id"]),
        org_id=uuid.UUID(org["id"]),
        kind=kind,
        country=org["country"],
        platform=org["platform"],
        scopes=frozenset(scopes),
    )


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


async def create_sample_flags(
    session: AsyncSession, orgs: list[dict[str, Any]], *, count: int = 300, seed: int = 2018
) -> dict[str, int]:
    """Create `count` flags with outcomes, questions, withdrawals and two holds."""
    rng = random.Random(seed)  # noqa: S311 - demo data, not security
    agencies = [o for o in orgs if o["kind"] == "agency"]
    platforms = [o for o in orgs if o["kind"] == "platform"]
    by_slug = {p["platform"]: p for p in platforms}
    now = datetime.now(UTC)
    stats: dict[str, int] = {}

    # Two investigations under deconfliction holds, each with a flag from another agency.
    held_accounts = []
    for holder_cc, slug, handle in (
        ("AU", "twitter", "ribat_post_77"),
        ("SG", "youtube", "sahwa_news_12"),
    ):
        holder = next(a for a in agencies if a["country"] == holder_cc)
        await holds.create_hold(
            session=session,
            principal=_principal(holder),
            data=HoldCreate(
                platform=slug,
                account=AccountRef(handle=handle),
                reason="Joint investigation in progress: do not alert the account holder.",
                expires_at=now + timedelta(days=45),
            ),
        )
        held_accounts.append((slug, handle, holder_cc))

    for i in range(count):
        agency = rng.choice(agencies)
        platform = by_slug["twitter"] if rng.random() < 0.6 else rng.choice(platforms)
        category, _, summary = _weighted(rng, CATEGORIES)
        kind = "removal_order" if rng.random() < 0.1 else "referral"
        priority = (
            "urgent" if category in ("threat", "instruction") or rng.random() < 0.12 else "standard"
        )
        handle = f"{rng.choice(PREFIXES)}_{rng.randint(1, 9999)}"
        if i < len(held_accounts) * 2:
            slug, handle, holder_cc = held_accounts[i % len(held_accounts)]
            platform = by_slug[slug]
            agency = next(a for a in agencies if a["country"] != holder_cc and a["country"] != "MM")
        body = {
            "platform": platform["platform"],
            "account": {"handle": handle, "url": None, "id": None},
            "kind": kind,
            "category": category,
            "priority": priority,
            "legal_basis": LEGAL_BASIS[agency["country"]],
            "summary": summary,
            "evidence": [
                {
                    "url": f"https://evidence.{agency['country'].lower()}.example.gov/"
                    f"cases/{i + 1}/capture.png",
                    "sha256": f"{rng.getrandbits(256):064x}",
                    "captured_at": (now - timedelta(days=rng.randint(1, 60))).isoformat(),
                    "description": "Screenshot of the post with timestamp",
                }
            ],
            "external_ref": f"{agency['country']}-CT-{2026}-{i + 1:05d}",
        }
        raw = (
            await session.execute(
                text("SELECT fb_submit_flag(:o, :c, :cc, CAST(:f AS jsonb), 'demo', NULL)::text"),
                {
                    "o": agency["id"],
                    "c": agency["client_id"],
                    "cc": agency["country"],
                    "f": json.dumps(body),
                },
            )
        ).scalar_one()
        result = json.loads(raw)
        if result["status"] != 201:
            stats["skipped"] = stats.get("skipped", 0) + 1
            continue
        flag = result["body"]
        flag_id = uuid.UUID(flag["id"])
        plat = _principal(platform)
        ag = _principal(agency)
        roll = rng.random()
        if flag["status"] == "held":
            pass
        elif roll < 0.42:
            await flags.acknowledge(session=session, principal=plat, flag_id=flag_id)
            action = _weighted(rng, OUTCOMES)[0]
            await flags.record_outcome(
                session=session,
                principal=plat,
                flag_id=flag_id,
                action=action,
                note=None,
                actioned_at=None,
            )
        elif roll < 0.62:
            await flags.acknowledge(session=session, principal=plat, flag_id=flag_id)
        elif roll < 0.70:
            await flags.request_info(
                session=session,
                principal=plat,
                flag_id=flag_id,
                question="Can you share the specific posts and their dates?",
            )
        elif roll < 0.76:
            await flags.withdraw(
                session=session,
                principal=ag,
                flag_id=flag_id,
                reason="Account already removed by the platform.",
            )
        status = (
            await session.execute(text("SELECT status FROM flag WHERE id = :i"), {"i": flag_id})
        ).scalar_one()
        stats[status] = stats.get(status, 0) + 1
        await _backdate(session, flag_id, rng, now)
        _progress(i + 1, count)
    return stats


async def _backdate(
    session: AsyncSession, flag_id: uuid.UUID, rng: random.Random, now: datetime
) -> None:
    """Spread the flag over the last two months with plausible response times."""
    submitted = now - timedelta(days=rng.uniform(0.2, 60))
    ack = submitted + timedelta(minutes=rng.uniform(5, 600))
    closed = ack + timedelta(hours=rng.uniform(0.5, 40))
    params = {"id": flag_id, "s": submitted, "a": ack, "c": closed}
    times = "SELECT CAST(:s AS timestamptz) s, CAST(:a AS timestamptz) a, CAST(:c AS timestamptz) c"
    await session.execute(
        text(
            f"""
            WITH t AS ({times})
            UPDATE flag SET
                due_at = t.s + (due_at - submitted_at),
                opened_at = CASE WHEN opened_at IS NULL THEN NULL ELSE t.s END,
                submitted_at = t.s,
                delivered_at = CASE WHEN acknowledged_at IS NULL THEN NULL ELSE t.a END,
                acknowledged_at = CASE WHEN acknowledged_at IS NULL THEN NULL ELSE t.a END,
                info_requested_at = CASE WHEN info_requested_at IS NULL THEN NULL ELSE t.a END,
                closed_at = CASE WHEN closed_at IS NULL THEN NULL ELSE t.c END,
                actioned_at = CASE WHEN actioned_at IS NULL THEN NULL ELSE t.c END,
                withdrawn_at = CASE WHEN withdrawn_at IS NULL THEN NULL ELSE t.c END
            FROM t WHERE id = :id
            """  # noqa: S608 - fixed SQL; values are bound
        ),
        params,
    )
    await session.execute(
        text(
            f"""
            WITH t AS ({times})
            UPDATE flag_event SET at = CASE type
                WHEN 'submitted' THEN t.s WHEN 'held' THEN t.s
                WHEN 'acknowledged' THEN t.a WHEN 'info_requested' THEN t.a
                ELSE t.c END
            FROM t WHERE flag_id = :id
            """  # noqa: S608 - fixed SQL; values are bound
        ),
        params,
    )
