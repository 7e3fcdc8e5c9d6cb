"""Contests and statements of reasons in the demo's bulk history.

Contests: about 5% of the not-actioned outcomes (`contest.CONTESTABLE`) are contested
within the contest window; the platform answers about a third of them with an actioned,
overturning outcome and upholds the rest. The two most recent contestable outcomes are
contested a few days after them and still wait in `reconsideration`, with their due date
from the deadline policy (the spans `fb_due_at` gives, as for every history flag).

Statements of reasons: about two thirds of the actioned outcomes carry one, either on
illegal content (citing the issuing country's law the flag cites) or on the platform's
terms (a clause of its rules), with a mix of automation, mostly of global scope. A few
suspensions become `account_withheld_in_country`, whose statement's scope is the flag's
country; an overturning reconsidered outcome has its own statement (decision 2).

Written set-wise after the flags: one UPDATE opens and answers every contest as the
service would (the flag's triggers count them, in the rollups and contest_rollup_day),
one INSERT writes their history events, one INSERT the statements (whose trigger counts
them in statement_rollup_day). A separate seeded generator draws them, so the flags of
the history stay those of earlier versions of the demo.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.flags import contest
from app.vocabulary import ACTIONED

CONTEST_SHARE = 0.05
OVERTURN_SHARE = 1 / 3
OPEN_CONTESTS = 2
STATEMENT_SHARE = 0.65
WITHHELD_SHARE = 0.005
# The window of FLAGBRIDGE_CONTEST_WINDOW_DAYS' default: agencies contest well inside it.
CONTEST_WITHIN = timedelta(days=25)
TERMS_CLAUSES = {
    "twitter": "Twitter Rules: Violent and hateful entities policy",
    "facebook": "Community Standards: Dangerous Organizations and Individuals",
    "youtube": "Community Guidelines: Violent extremist or criminal organizations policy",
}
CONTEST_REASON = "The account has since posted new material of the same proscribed group."
UPHELD_NOTE = "Reviewed again with the new evidence; the first outcome stands."
OVERTURNED_NOTE = "Reviewed again with the new evidence; the new posts breach our rules."
EXPLANATION = {
    "illegal_content": "The content promotes a proscribed terrorist organisation, which the "
    "cited law makes an offence in the flagging country.",
    "terms_of_service": "The content praises or supports a violent extremist organisation, "
    "which our rules do not allow.",
}


@dataclass
class HistoryExtras:
    """The contests and statements drawn for a set of history flags (keyed by external_ref)."""

    contests: list[dict[str, Any]] = field(default_factory=list)
    statements: list[dict[str, Any]] = field(default_factory=list)


def _statement(
    rng: random.Random, row: dict[str, Any], action: str, decision: int, at: datetime
) -> dict[str, Any]:
    """A statement of reasons for `action` on this history flag."""
    illegal = rng.random() < 0.55
    detected = rng.random() < 0.4
    automation = rng.choices(
        ["fully", "partially", "not_automated"], [20, 45, 35] if detected else [0, 25, 75]
    )[0]
    scoped = action == "account_withheld_in_country" or (
        action == "content_removed" and rng.random() < 0.08
    )
    ground = "illegal_content" if illegal else "terms_of_service"
    return {
        "ref": row["ref"],
        "agency": str(row["agency"]),
        "decision": decision,
        "action": action,
        "ground": ground,
        "legal_provision": row["legal_basis"] if illegal else None,
        "terms_clause": None if illegal else TERMS_CLAUSES[row["platform"]],
        "explanation": EXPLANATION[ground],
        "automated_detection": detected,
        "automated_decision": automation,
        "territorial_scope": [row["country"]] if scoped else None,
        "created_at": at.isoformat(),
    }


def _contest(
    rng: random.Random, row: dict[str, Any], contested: datetime, until: datetime, span: timedelta
) -> dict[str, Any]:
    """A contest of this flag's first outcome: answered (upheld or overturned) if the
    answer comes before `until`, else still open."""
    answered = contested + timedelta(hours=rng.lognormvariate(0, 0.8) * 30)
    due = contested + span
    out: dict[str, Any] = {
        "ref": row["ref"],
        "agency": row["agency"],
        "platform_org": row["platform_org"],
        "first": row["action"],
        "contested": contested.isoformat(),
        "due": due.isoformat(),
        "evidence": [
            {
                "url": f"https://evidence.{row['country'].lower()}.example.gov/cases/"
                f"{row['ref']}/new-posts.png",
                "captured_at": (contested - timedelta(hours=2)).isoformat(),
            }
        ],
        "status": "reconsideration",
        "action": None,
        "answered": None,
        "overturned": None,
        "note": None,
    }
    if answered >= until:
        return out
    if rng.random() < OVERTURN_SHARE:
        action, note = rng.choice(["account_suspended", "content_removed"]), OVERTURNED_NOTE
    else:
        action, note = row["action"], UPHELD_NOTE
    turned = contest.overturned(row["action"], action)
    return out | {
        "status": "closed",
        "action": action,
        "answered": answered.isoformat(),
        "overturned": turned,
        "note": note,
    }


def draw_extras(
    rng: random.Random, rows: list[dict[str, Any]], now: datetime, spans: dict[Any, timedelta]
) -> HistoryExtras:
    """Contests and statements for the history's rows; turns a few suspensions into
    account_withheld_in_country (so call it before the rows are inserted)."""
    extras = HistoryExtras()
    settled = sorted((r for r in rows if r["closed"] is not None), key=lambda r: r["closed"])
    # The most recent contestable outcomes: contested a few days after them and not yet
    # answered (overdue when the history's last outcomes are weeks old).
    recent = {
        id(r) for r in [r for r in settled if r["action"] in contest.CONTESTABLE][-OPEN_CONTESTS:]
    }
    for row in settled:
        span = spans[(row["country"], row["kind"], row["priority"])]
        if id(row) in recent:
            contested = min(row["closed"] + timedelta(days=rng.uniform(1, 5)), now)
            contested = max(contested - timedelta(hours=1), row["closed"])
            extras.contests.append(_contest(rng, row, contested, contested, span))
            continue
        if row["action"] == "account_suspended" and rng.random() < WITHHELD_SHARE:
            row["action"] = "account_withheld_in_country"
        if row["action"] in contest.CONTESTABLE and rng.random() < CONTEST_SHARE:
            contested = row["closed"] + CONTEST_WITHIN * rng.uniform(0.01, 1)
            if contested < now:
                found = _contest(rng, row, contested, now, span)
                extras.contests.append(found)
                if found["overturned"]:
                    answered = datetime.fromisoformat(found["answered"])
                    extras.statements.append(_statement(rng, row, found["action"], 2, answered))
        needs = row["action"] == "account_withheld_in_country"
        if needs or (row["action"] in ACTIONED and rng.random() < STATEMENT_SHARE):
            extras.statements.append(_statement(rng, row, row["action"], 1, row["closed"]))
    return extras


_CONTESTS = text(
    """
    WITH c AS (
        SELECT * FROM jsonb_to_recordset(CAST(:contests AS jsonb)) AS c(
            ref text, agency uuid, platform_org uuid, first text, contested timestamptz,
            due timestamptz, evidence jsonb, status text, action text,
            answered timestamptz, overturned boolean, note text)
    ), upd AS (
        UPDATE flag f SET status = c.status, contested_at = c.contested,
               contest_reason = CAST(:reason AS text), contest_evidence = c.evidence,
               due_at = c.due, reconsidered_at = c.answered, reconsidered_action = c.action,
               reconsidered_note = c.note, reconsidered_actioned_at = c.answered,
               overturned = c.overturned, updated_at = coalesce(c.answered, c.contested)
        FROM c WHERE f.agency_org_id = c.agency AND f.external_ref = c.ref
        RETURNING f.id, c.*
    ), events AS (
        INSERT INTO flag_event (flag_id, type, at, actor_org_id, data)
        SELECT upd.id, e.type, e.at, e.actor, e.data
        FROM upd CROSS JOIN LATERAL (VALUES
            ('contested', upd.contested, upd.agency,
             jsonb_build_object('reason', CAST(:reason AS text), 'evidence', upd.evidence,
                                'first_outcome', upd.first)),
            ('outcome', upd.answered, upd.platform_org,
             jsonb_build_object('action', upd.action, 'actioned_at', upd.answered,
                                'reconsidered', true, 'overturned', upd.overturned,
                                'note', upd.note))
        ) AS e (type, at, actor, data)
        WHERE e.at IS NOT NULL
    )
    SELECT count(*) FROM upd
    """
)
_STATEMENTS = text(
    """
    WITH ins AS (
    INSERT INTO outcome_statement (flag_id, decision, action, ground, legal_provision,
                                   terms_clause, explanation, automated_detection,
                                   automated_decision, territorial_scope, created_at)
    SELECT f.id, s.decision, s.action, s.ground, s.legal_provision, s.terms_clause,
           s.explanation, s.automated_detection, s.automated_decision,
           CASE WHEN jsonb_typeof(s.territorial_scope) = 'array'
                THEN ARRAY(SELECT jsonb_array_elements_text(s.territorial_scope)) END,
           s.created_at
    FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS s(
        ref text, agency uuid, decision smallint, action text, ground text, legal_provision text,
        terms_clause text, explanation text, automated_detection boolean,
        automated_decision text, territorial_scope jsonb, created_at timestamptz)
    JOIN flag f ON f.agency_org_id = s.agency AND f.external_ref = s.ref
    RETURNING 1
    )
    SELECT count(*) FROM ins
    """
)


async def write_extras(session: AsyncSession, extras: HistoryExtras) -> dict[str, int]:
    """Open and answer the contests, then store the statements: three statements in all."""
    contests = await session.execute(
        _CONTESTS, {"contests": json.dumps(extras.contests, default=str), "reason": CONTEST_REASON}
    )
    statements = await session.execute(_STATEMENTS, {"rows": json.dumps(extras.statements)})
    return {
        "contests": int(contests.scalar_one()),
        "statements": int(statements.scalar_one()),
    }
