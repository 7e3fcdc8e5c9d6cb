"""Every SQL statement about flags.

Rendering goes through the SQL function `fb_flag_json` so that every route and feed shows
a flag the same way, and tenancy is applied here, from the Principal, never by endpoints.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.db import after_commit
from app.flags.schemas import FlagFilter
from app.observability import FLAG_TRANSITIONS

# Events that would tell a platform a deconfliction hold existed.
HIDDEN_FROM_PLATFORMS = ("held", "released")


def visibility_clause(principal: Principal, alias: str = "f") -> tuple[str, dict[str, Any]]:
    """SQL condition restricting flags to those the caller may see.

    Agencies see their own flags; platforms the flags addressed to them once they are out
    of a hold; auditors and operators everything. Anyone else sees nothing.
    """
    if principal.kind == "agency":
        return f"{alias}.agency_org_id = :viewer_org", {"viewer_org": principal.org_id}
    if principal.kind == "platform":
        # opened_at is set when a flag first reaches the platform (at submission, or when
        # its hold ends); a flag withdrawn while still held never did.
        return (
            f"{alias}.platform_org_id = :viewer_org AND {alias}.opened_at IS NOT NULL",
            {"viewer_org": principal.org_id},
        )
    if principal.has("audit:read") or principal.has("admin"):
        return "TRUE", {}
    return "FALSE", {}


async def submit_batch(
    session: AsyncSession,
    *,
    principal: Principal,
    items: list[dict[str, Any]],
    request_id: str | None,
    client_ip: str | None,
) -> list[dict[str, Any]]:
    """Submit valid batch items (fb_submit_flag_batch: the common case set-based, the rest
    one by one, each failing alone); per-item results in order, each body as the JSON text
    the database rendered (the answer is assembled from it, never parsed)."""
    rows = await session.execute(
        text(
            "SELECT (e->>'index')::int, (e->>'status')::int, (e->'body')::text,"
            " ARRAY(SELECT jsonb_array_elements_text(coalesce(e->'notify', '[]')))"
            " FROM jsonb_array_elements(fb_submit_flag_batch(:org, :client, :country,"
            " CAST(:items AS jsonb), :rid, :ip)) AS e"
        ),
        {
            "org": principal.org_id,
            "client": principal.client_id,
            "country": principal.country,
            "items": json.dumps(items),
            "rid": request_id,
            "ip": client_ip,
        },
    )
    return [{"index": r[0], "status": r[1], "body": r[2], "notify": r[3]} for r in rows]


# Each filter of GET /v1/flags and the condition it adds (bound as :<field name>).
_FILTERS = {
    "status": "f.status = :status",
    "platform": "f.platform = :platform",
    "category": "f.category = :category",
    "submitted_after": "f.submitted_at >= :submitted_after",
    "submitted_before": "f.submitted_at < :submitted_before",
}


async def list_flags(
    session: AsyncSession,
    *,
    principal: Principal,
    filters: FlagFilter,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> list[tuple[datetime, uuid.UUID, dict[str, Any]]]:
    """The caller's flags, newest first, keyset-paginated on (submitted_at, id)."""
    where, params = visibility_clause(principal)
    conds = [where]
    for name, condition in _FILTERS.items():
        value = getattr(filters, name)
        if value is not None:
            conds.append(condition)
            params[name] = value
    if after is not None:
        conds.append("(f.submitted_at, f.id) < (:cur_ts, :cur_id)")
        params["cur_ts"], params["cur_id"] = after
    params["limit"] = limit
    rows = await session.execute(
        text(
            "SELECT f.submitted_at, f.id, fb_flag_json(f)::text FROM flag f WHERE "  # noqa: S608
            + " AND ".join(conds)
            + " ORDER BY f.submitted_at DESC, f.id DESC LIMIT :limit"
        ),
        params,
    )
    return [(r[0], r[1], json.loads(r[2])) for r in rows]


async def get_visible(
    session: AsyncSession, *, principal: Principal, flag_id: uuid.UUID, for_update: bool = False
) -> dict[str, Any] | None:
    """The flag's raw row if the caller may see it (locked FOR UPDATE if asked)."""
    where, params = visibility_clause(principal)
    params["id"] = flag_id
    lock = " FOR UPDATE OF f" if for_update else ""
    row = (
        (
            await session.execute(
                # where/lock are fixed fragments chosen above; values are bound parameters.
                text(f"SELECT f.* FROM flag f WHERE f.id = :id AND {where}{lock}"),  # noqa: S608
                params,
            )
        )
        .mappings()
        .first()
    )
    return dict(row) if row else None


def flag_json_sql(viewer: Principal | None, alias: str = "f") -> str:
    """The SQL expression rendering a flag for this viewer (platforms get their own view)."""
    if viewer is not None and viewer.kind == "platform":
        return f"fb_flag_json_for_platform({alias})"
    return f"fb_flag_json({alias})"


async def render(
    session: AsyncSession, flag_id: uuid.UUID, viewer: Principal | None = None
) -> dict[str, Any]:
    """The flag as JSON, as the viewer sees it."""
    raw = (
        await session.execute(
            text(f"SELECT {flag_json_sql(viewer)}::text FROM flag f WHERE f.id = :id"),  # noqa: S608
            {"id": flag_id},
        )
    ).scalar_one()
    return dict(json.loads(raw))


async def history(
    session: AsyncSession, *, flag_id: uuid.UUID, platform_view: bool = False
) -> list[dict[str, Any]]:
    """The flag's events, oldest first. A platform's view leaves out the hold: no held or
    released events, and the flag counts as submitted when it reached the platform."""
    hide = list(HIDDEN_FROM_PLATFORMS) if platform_view else []
    rows = await session.execute(
        text(
            "SELECT e.type, fb_ts(CASE WHEN :pv AND e.type = 'submitted' "
            "THEN coalesce(f.opened_at, e.at) ELSE e.at END) AS at, e.data "
            "FROM flag_event e JOIN flag f ON f.id = e.flag_id "
            "WHERE e.flag_id = :id AND NOT (e.type = ANY(:hide)) ORDER BY e.id"
        ),
        {"id": flag_id, "hide": hide, "pv": platform_view},
    )
    return [dict(r._mapping) for r in rows]


DB_NOW = object()
"""Stands for the transaction's now() in update_flag, so all timestamps share one clock."""

_UPDATABLE = frozenset(
    {
        "status",
        "opened_at",
        "due_at",
        "delivered_at",
        "acknowledged_at",
        "info_requested_at",
        "closed_at",
        "withdrawn_at",
        "withdraw_reason",
        "outcome_action",
        "outcome_note",
        "actioned_at",
    }
)


async def update_flag(session: AsyncSession, flag_id: uuid.UUID, values: dict[str, Any]) -> None:
    """Set columns of a flag (the caller holds its row lock)."""
    unknown = set(values) - _UPDATABLE
    if unknown:
        raise ValueError(f"not updatable: {sorted(unknown)}")
    sets = ", ".join(
        f"{col} = now()" if val is DB_NOW else f"{col} = :{col}" for col, val in values.items()
    )
    params = {k: v for k, v in values.items() if v is not DB_NOW}
    await session.execute(
        # Column names come from the allow-list above; values are bound parameters.
        text(f"UPDATE flag SET {sets}, updated_at = now() WHERE id = :flag_id"),  # noqa: S608
        {**params, "flag_id": flag_id},
    )


async def shift_due_at(session: AsyncSession, flag_id: uuid.UUID) -> None:
    """Resume the deadline clock: push due_at by the time spent waiting for the agency."""
    await session.execute(
        text(
            "UPDATE flag SET due_at = due_at + (now() - info_requested_at), "
            "info_requested_at = NULL WHERE id = :id AND info_requested_at IS NOT NULL"
        ),
        {"id": flag_id},
    )


async def add_history(
    session: AsyncSession,
    *,
    flag_id: uuid.UUID,
    type_: str,
    actor: Principal | None,
    data: dict[str, Any] | None = None,
) -> None:
    """Append to the flag's history (and count the change once the transaction commits)."""
    await session.execute(
        text(
            "INSERT INTO flag_event (flag_id, type, actor_org_id, actor_client_id, data) "
            "VALUES (:f, :t, :o, :c, CAST(:d AS jsonb))"
        ),
        {
            "f": flag_id,
            "t": type_,
            "o": actor.org_id if actor else None,
            "c": actor.client_id if actor else None,
            "d": json.dumps(data or {}),
        },
    )
    after_commit(session, lambda: FLAG_TRANSITIONS.labels(type_).inc())


async def add_feed_event(
    session: AsyncSession,
    *,
    recipient: uuid.UUID,
    type_: str,
    flag_id: uuid.UUID | None = None,
    hold_id: uuid.UUID | None = None,
    data: dict[str, Any] | None = None,
) -> None:
    """Add an event to an organisation's feed (and, later, its webhook outbox)."""
    await session.execute(
        text(
            "INSERT INTO feed_event (recipient_org_id, type, flag_id, hold_id, data) "
            "VALUES (:r, :t, :f, :h, CAST(:d AS jsonb))"
        ),
        {"r": recipient, "t": type_, "f": flag_id, "h": hold_id, "d": json.dumps(data or {})},
    )


async def append_evidence(
    session: AsyncSession, flag_id: uuid.UUID, evidence: list[dict[str, Any]]
) -> None:
    """Add evidence items to a flag."""
    await session.execute(
        text("UPDATE flag SET evidence = evidence || CAST(:e AS jsonb) WHERE id = :id"),
        {"e": json.dumps(evidence), "id": flag_id},
    )


async def emit_corroborations(session: AsyncSession, *, flag_id: uuid.UUID) -> None:
    """Tell the platform which of its other live flags on the account the now-open flag
    corroborates (fb_emit_corroborations, the same rule submission uses)."""
    await session.execute(
        text("SELECT fb_emit_corroborations(f) FROM flag f WHERE f.id = :id"), {"id": flag_id}
    )


async def due_at_from_now(session: AsyncSession, flag: dict[str, Any]) -> datetime:
    """The deadline for a flag whose clock starts now (policy of its country)."""
    return (
        await session.execute(
            text("SELECT fb_due_at(:c, :k, :p, now())"),
            {"c": flag["country"], "k": flag["kind"], "p": flag["priority"]},
        )
    ).scalar_one()
