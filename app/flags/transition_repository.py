"""The set-wise statements of flag transitions: locking a set of flags, applying a set of
platform answers, and writing what a set of transitions leaves behind.

Each is one statement whatever the number of flags, so a batch of a thousand answers costs
a few round trips instead of several per item.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.flags.repository import visibility_clause

# History and feed events arrive as columns (arrays, in the steps' order), which asyncpg
# sends in binary: no JSON to write in Python or to take apart in PostgreSQL.
_WRITE_ROWS = text(
    """
    WITH h AS (
        INSERT INTO flag_event (flag_id, type, actor_org_id, actor_client_id, data)
        SELECT x.flag_id, x.type, :org, :client, x.data
        FROM unnest(CAST(:h_flag AS uuid[]), CAST(:h_type AS text[]), CAST(:h_data AS jsonb[]))
             WITH ORDINALITY AS x(flag_id, type, data, n)
        ORDER BY x.n
    ), fe AS (
        INSERT INTO feed_event (recipient_org_id, type, flag_id, data)
        SELECT x.recipient, x.type, x.flag_id, x.data
        FROM unnest(CAST(:f_recipient AS uuid[]), CAST(:f_type AS text[]),
                    CAST(:f_flag AS uuid[]), CAST(:f_data AS jsonb[]))
             WITH ORDINALITY AS x(recipient, type, flag_id, data, n)
        ORDER BY x.n
    )
    SELECT fb_audit_record_many(CAST(:audit AS jsonb))
    """
)


async def write_transition_rows(
    session: AsyncSession,
    *,
    actor: Principal | None,
    history: list[dict[str, Any]],
    feed: list[dict[str, Any]],
    audit_entries: list[dict[str, Any]],
) -> None:
    """Insert history events ({flag_id, type, data}), feed events ({recipient, type,
    flag_id, data}) and audit entries, each in list order."""
    await session.execute(
        _WRITE_ROWS,
        {
            "org": actor.org_id if actor else None,
            "client": actor.client_id if actor else None,
            "h_flag": [h["flag_id"] for h in history],
            "h_type": [h["type"] for h in history],
            "h_data": [json.dumps(h["data"]) for h in history],
            "f_recipient": [f["recipient"] for f in feed],
            "f_type": [f["type"] for f in feed],
            "f_flag": [f["flag_id"] for f in feed],
            "f_data": [json.dumps(f["data"]) for f in feed],
            "audit": json.dumps(audit_entries),
        },
    )


async def lock_visible(
    session: AsyncSession, *, principal: Principal, flag_ids: list[uuid.UUID]
) -> dict[uuid.UUID, dict[str, Any]]:
    """What answers are judged on, of the flags the caller may see, locked FOR UPDATE in id
    order (two batches over the same flags then wait for each other, never deadlock)."""
    where, params = visibility_clause(principal)
    rows = await session.execute(
        text(
            "SELECT f.id, f.status, f.outcome_action, f.submitted_at, f.agency_org_id, "  # noqa: S608
            "f.reconsidered_action "
            f"FROM flag f WHERE f.id = ANY(:ids) AND {where} ORDER BY f.id FOR UPDATE OF f"
        ),
        {**params, "ids": sorted(set(flag_ids))},
    )
    return {r["id"]: dict(r) for r in rows.mappings()}


async def apply_answers(session: AsyncSession, *, answers: list[dict[str, Any]]) -> None:
    """Apply acks and outcomes, at most one per flag, in one statement.

    An ack stamps `acknowledged_at`. An outcome first settles a paused deadline clock (due_at
    moves by the time spent waiting for the agency), then closes the flag, counting it
    acknowledged if it was not. The new status comes from app/flags/state.py, never from here.
    """
    if not answers:
        return
    await session.execute(
        text(
            """
            WITH a AS (
                SELECT * FROM jsonb_to_recordset(CAST(:answers AS jsonb)) AS a(
                    flag_id uuid, status text, outcome boolean, action text, note text,
                    actioned_at timestamptz)
            )
            UPDATE flag f SET
                status = a.status,
                acknowledged_at = CASE WHEN a.outcome THEN coalesce(f.acknowledged_at, now())
                                       ELSE now() END,
                closed_at = CASE WHEN a.outcome THEN now() ELSE f.closed_at END,
                outcome_action = CASE WHEN a.outcome THEN a.action ELSE f.outcome_action END,
                outcome_note = CASE WHEN a.outcome THEN a.note ELSE f.outcome_note END,
                actioned_at = CASE WHEN a.outcome THEN a.actioned_at ELSE f.actioned_at END,
                due_at = CASE WHEN a.outcome AND f.info_requested_at IS NOT NULL
                              THEN f.due_at + (now() - f.info_requested_at) ELSE f.due_at END,
                info_requested_at = CASE WHEN a.outcome THEN NULL ELSE f.info_requested_at END,
                updated_at = now()
            FROM a WHERE f.id = a.flag_id
            """
        ),
        {"answers": json.dumps(answers)},
    )


async def render_many(
    session: AsyncSession, *, viewer: Principal, flag_ids: list[uuid.UUID]
) -> dict[uuid.UUID, str]:
    """Flags as the viewer sees them, as JSON text by id (a statement of its own, so that
    it sees the changes before it: corroborations count other flags' statuses), rendered
    as one set by `fb_flag_docs`."""
    rows = await session.execute(
        text("SELECT d.id, d.doc::text FROM fb_flag_docs(CAST(:ids AS uuid[]), :platform) d"),
        {"ids": flag_ids, "platform": viewer.kind == "platform"},
    )
    return {r[0]: r[1] for r in rows}
