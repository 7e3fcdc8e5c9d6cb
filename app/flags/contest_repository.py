"""The statements of a contest round: opening it, and recording reconsidered outcomes as a set."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession


async def agency_has_other_live_flag(session: AsyncSession, *, flag: dict[str, Any]) -> bool:
    """Whether the flag's agency has another live flag on its account (a contest would make
    this one live too, and an agency has at most one: uq_flag_agency_account_live)."""
    found = await session.execute(
        text(
            "SELECT 1 FROM flag WHERE agency_org_id = :agency AND account_id = :account "
            "AND id <> :id AND status NOT IN ('closed', 'withdrawn') LIMIT 1"
        ),
        {"agency": flag["agency_org_id"], "account": flag["account_id"], "id": flag["id"]},
    )
    return found.first() is not None


async def contest(
    session: AsyncSession,
    *,
    flag_id: uuid.UUID,
    status: str,
    reason: str,
    evidence: list[dict[str, Any]],
    due_at: datetime,
) -> None:
    """Open the contest round (the caller holds the flag's row lock and checked the rules)."""
    await session.execute(
        text(
            "UPDATE flag SET status = :status, contested_at = now(), contest_reason = :reason, "
            "contest_evidence = CAST(:evidence AS jsonb), due_at = :due_at, "
            "updated_at = now() WHERE id = :id"
        ),
        {
            "id": flag_id,
            "status": status,
            "reason": reason,
            "evidence": json.dumps(evidence),
            "due_at": due_at,
        },
    )


async def apply_reconsidered(session: AsyncSession, *, answers: list[dict[str, Any]]) -> None:
    """Record reconsidered outcomes, at most one per flag, in one statement. The first
    outcome's columns stay as they are; the new status and `overturned` come from Python."""
    if not answers:
        return
    await session.execute(
        text(
            """
            WITH a AS (
                SELECT * FROM jsonb_to_recordset(CAST(:answers AS jsonb)) AS a(
                    flag_id uuid, status text, action text, note text,
                    actioned_at timestamptz, overturned boolean)
            )
            UPDATE flag f SET
                status = a.status,
                reconsidered_at = now(),
                reconsidered_action = a.action,
                reconsidered_note = a.note,
                reconsidered_actioned_at = a.actioned_at,
                overturned = a.overturned,
                updated_at = now()
            FROM a WHERE f.id = a.flag_id
            """
        ),
        {"answers": json.dumps(answers)},
    )
