"""Runs of the audit chain's verification: one at a time, where the next incremental run may
start, and how soon a client may ask for another full run.

A run checks the links after some position and records which ones held
(`audit_verification`). The newest run decides what later runs may trust: if it held, every
link up to its `through_position` was verified, because a run starts either at the chain's
start or at a checkpoint an earlier run that held had verified (so by induction the
verified positions always begin at 1). If it failed, nothing is trusted until a full run
holds again. An incremental run then starts at the newest checkpoint inside the verified
positions whose signature still verifies and whose head the chain still reaches.

What this cannot see: an entry edited before that checkpoint without touching the chain's
links. A full run (`?full=true`, `flagbridge audit verify`, the daily background run)
recomputes every link and finds it.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import checkpoints
from app.auth.keys import KeyRing
from app.kit.locks import AdvisoryLock

VERIFY_LOCK = int(AdvisoryLock.AUDIT_VERIFY)


async def take_turn(session: AsyncSession, *, wait: bool = False) -> bool:
    """Hold the verification lock until the session's transaction ends; without `wait`,
    False at once if another process (or request) is verifying."""
    if wait:
        await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": VERIFY_LOCK})
        return True
    got = await session.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": VERIFY_LOCK})
    return bool(got.scalar())


async def trusted_checkpoint(
    session: AsyncSession, ring: KeyRing
) -> tuple[int, dict[str, Any]] | None:
    """The checkpoint (id, published form) an incremental run may start from, or None
    when it must start at the chain's start."""
    newest = (
        await session.execute(
            text("SELECT ok, through_position FROM audit_verification ORDER BY id DESC LIMIT 1")
        )
    ).first()
    if newest is None or not newest.ok:
        return None
    row = (
        (
            await session.execute(
                text(
                    "SELECT c.id, c.position, c.head_hash, c.signed_at, c.kid, c.signature, "
                    "s.chain_hash FROM audit_checkpoint c "
                    "LEFT JOIN audit_seal s ON s.position = c.position "
                    "WHERE c.position <= :through ORDER BY c.position DESC, c.id DESC LIMIT 1"
                ),
                {"through": newest.through_position},
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        return None
    checkpoint = checkpoints.as_json(dict(row))
    # A checkpoint that no longer holds is no place to start: the full run reports it.
    if row["chain_hash"] is None or bytes(row["chain_hash"]) != bytes(row["head_hash"]):
        return None
    if checkpoints.signature_problem(checkpoint, ring) is not None:
        return None
    return row["id"], checkpoint


async def record(
    session: AsyncSession,
    *,
    result: dict[str, Any],
    checkpoint_id: int | None,
    client_id: uuid.UUID | None,
) -> None:
    """Remember what a run checked and whether it held."""
    await session.execute(
        text(
            "INSERT INTO audit_verification (after_position, through_position, checkpoint_id, "
            "ok, client_id) VALUES (:after, :through, :checkpoint, :ok, :client)"
        ),
        {
            "after": result["from_seq"] - 1,
            "through": result["to_seq"],
            "checkpoint": checkpoint_id,
            "ok": result["status"] == "ok",
            "client": client_id,
        },
    )


async def since_last_full(
    session: AsyncSession, *, client_id: uuid.UUID | None
) -> timedelta | None:
    """How long ago the newest full run (of this client; None: of anyone) was, or None if
    there was none."""
    last = (
        await session.execute(
            text(
                "SELECT max(verified_at) FROM audit_verification WHERE after_position = 0 "
                "AND (CAST(:client AS uuid) IS NULL OR client_id = :client)"
            ),
            {"client": client_id},
        )
    ).scalar()
    return None if last is None else datetime.now(UTC) - last
