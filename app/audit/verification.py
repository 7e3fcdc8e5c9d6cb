"""The verification of the audit log, as `GET /v1/audit/verify` and `flagbridge audit
verify` both report it: the chain (all of it, or what follows the newest checkpoint an
earlier run verified), the checkpoints in that range (stored and saved by a member), the
archive records, and the witnesses who vouch for the newest checkpoint."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.audit import checkpoints, partitions, runs, sealing, witnesses
from app.auth.keys import KeyRing

log = logging.getLogger(__name__)


async def verify_log(
    session: AsyncSession,
    ring: KeyRing,
    *,
    full: bool = True,
    client_id: uuid.UUID | None = None,
    saved: list[dict[str, Any]] | None = None,
    archive_files: dict[str, Iterator[dict[str, Any]]] | None = None,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """`ok`, or the first entry, checkpoint, archive record or co-signature that disagrees;
    with the positions checked and who vouches for the newest checkpoint. Every signature
    is checked against the key history, so rotation never breaks it. Not `full`: start at
    the checkpoint `runs.trusted_checkpoint` names, if there is one. The run is recorded in
    the session's transaction; hold `runs.take_turn` around it."""
    start = None if full else await runs.trusted_checkpoint(session, ring)
    after, head = (
        (start[1]["seq"], bytes.fromhex(start[1]["head_hash"])) if start else (0, sealing.GENESIS)
    )
    chain = await sealing.verify_chain(
        session, after=after, head=head, progress=progress, archive_files=archive_files
    )
    result = chain.as_dict()
    result["start_checkpoint"] = start[1] if start else None
    every = await checkpoints.stored(session, from_position=after) + (saved or [])
    vouched, witness_problem = await witnesses.vouching(session)
    result.update(vouched)
    bad = await checkpoints.check_against_chain(session, ring, every)
    if bad is not None:
        result.update(status="mismatch", checkpoint=bad["checkpoint"], problem=bad["problem"])
    elif (forged := await partitions.check_archives(session, ring)) is not None:
        result.update(status="mismatch", **forged)
    elif witness_problem is not None:
        result.update(status="mismatch", problem=witness_problem)
    await runs.record(
        session, result=result, checkpoint_id=start[0] if start else None, client_id=client_id
    )
    return result


async def verify_fully_if_due(
    sessionmaker: async_sessionmaker[AsyncSession], ring: KeyRing, *, every: timedelta
) -> dict[str, Any] | None:
    """The background full run: once per `every` across all processes and hosts (a full
    run by anyone counts), so an entry edited before the checkpoint incremental runs start
    from is found within a day. A mismatch is logged as an error."""
    async with sessionmaker() as session, session.begin():
        if not await runs.take_turn(session):
            return None
        ago = await runs.since_last_full(session, client_id=None)
        if ago is not None and ago < every:
            return None
        result = await verify_log(session, ring, full=True)
    if result["status"] != "ok":
        log.error(
            "audit log verification failed",
            extra={"first_bad_seq": result.get("first_bad_seq"), "problem": result["problem"]},
        )
    return result
