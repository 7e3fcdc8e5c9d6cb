"""The SQL of statements of reasons: writing a set of them, and reading one as filed."""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.flags.repository import flag_json_sql, visibility_clause

_INSERT = text(
    """
    INSERT INTO outcome_statement (flag_id, decision, action, ground, legal_provision,
                                   terms_clause, explanation, automated_detection,
                                   automated_decision, territorial_scope)
    SELECT s.flag_id, s.decision, s.action, s.ground, s.legal_provision, s.terms_clause,
           s.explanation, s.automated_detection, s.automated_decision,
           CASE WHEN jsonb_typeof(s.territorial_scope) = 'array'
                THEN ARRAY(SELECT jsonb_array_elements_text(s.territorial_scope)) END
    FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS s(
        flag_id uuid, decision smallint, action text, ground text, legal_provision text,
        terms_clause text, explanation text, automated_detection boolean,
        automated_decision text, territorial_scope jsonb)
    """
)


async def insert_statements(session: AsyncSession, *, rows: list[dict[str, Any]]) -> None:
    """Store the statements of a set of outcomes (columns of outcome_statement; a NULL
    territorial_scope is global), in one statement."""
    if rows:
        await session.execute(_INSERT, {"rows": json.dumps(rows)})


async def filed_statement(
    session: AsyncSession, *, principal: Principal, flag_id: uuid.UUID
) -> dict[str, Any] | None:
    """The flag as the caller sees it, if the caller may see it (None otherwise); its
    `statement` member is null when the platform gave none."""
    where, params = visibility_clause(principal)
    sql = f"SELECT {flag_json_sql(principal)}::text FROM flag f WHERE f.id = :id AND {where}"  # noqa: S608
    raw = (await session.execute(text(sql), {**params, "id": flag_id})).scalar_one_or_none()
    return None if raw is None else dict(json.loads(raw))
