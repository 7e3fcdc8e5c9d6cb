"""The whole verification of the audit log, as `GET /v1/audit/verify` and `flagbridge audit
verify` both report it: the chain, every checkpoint (stored and saved by a member), the
archive records, and the witnesses who vouch for the newest checkpoint."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import checkpoints, partitions, sealing, witnesses
from app.auth.keys import KeyRing


async def verify_log(
    session: AsyncSession,
    ring: KeyRing,
    *,
    saved: list[dict[str, Any]] | None = None,
    archive_files: dict[str, Iterator[dict[str, Any]]] | None = None,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """`ok`, or the first entry, checkpoint, archive record or co-signature that disagrees;
    with who vouches for the newest checkpoint. Every signature is checked against the key
    history, so rotation never breaks it."""
    result = (
        await sealing.verify_chain(session, progress=progress, archive_files=archive_files)
    ).as_dict()
    every = await checkpoints.stored(session) + (saved or [])
    vouched, witness_problem = await witnesses.vouching(session)
    result.update(vouched)
    bad = await checkpoints.check_against_chain(session, ring, every)
    if bad is not None:
        result.update(status="mismatch", checkpoint=bad["checkpoint"], problem=bad["problem"])
    elif (forged := await partitions.check_archives(session, ring)) is not None:
        result.update(status="mismatch", **forged)
    elif witness_problem is not None:
        result.update(status="mismatch", problem=witness_problem)
    return result
