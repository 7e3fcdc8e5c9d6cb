"""Signed checkpoints of the audit chain, and checking the chain against them.

A checkpoint states "after `seq` sealed entries the chain's head was `head_hash`", signed
with the service's ES256 key (compact JWS, `kid` in its header, key in the JWKS). An agency
or platform that keeps copies of checkpoints (GET /v1/audit/checkpoints) can later detect
a rewrite by anyone who controls the database: a rewritten or truncated chain no longer
reaches the head their checkpoint names, and a forged checkpoint does not verify.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from jose import jws
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.audit.sealing import SEAL_LOCK
from app.auth.keys import ALGORITHM, KeyRing
from app.kit.clock import rfc3339

CHECKPOINT_TYPE = "fb-audit-checkpoint+jws"


def as_json(row: dict[str, Any]) -> dict[str, Any]:
    """A stored checkpoint in its published form."""
    return {
        "seq": row["position"],
        "head_hash": bytes(row["head_hash"]).hex(),
        "signed_at": rfc3339(row["signed_at"]),
        "kid": row["kid"],
        "signature": row["signature"],
    }


def sign(ring: KeyRing, *, seq: int, head_hash: bytes, signed_at: datetime) -> str:
    """The compact JWS over the checkpoint's statement."""
    payload = {"seq": seq, "head_hash": head_hash.hex(), "signed_at": rfc3339(signed_at)}
    return ring.sign_statement(payload, typ=CHECKPOINT_TYPE)


_FIELDS: dict[str, type] = {
    "seq": int,
    "head_hash": str,
    "signed_at": str,
    "kid": str,
    "signature": str,
}


def saved_checkpoints(loaded: Any) -> list[dict[str, Any]]:
    """The checkpoints in what a member saved: a page of `GET /v1/audit/checkpoints`
    (`{"items": [...]}`), a list of checkpoints, or one. ValueError (fit for the user) for
    anything else."""
    if isinstance(loaded, dict) and "items" in loaded:
        loaded = loaded["items"]
    items = loaded if isinstance(loaded, list) else [loaded]
    if not items:
        raise ValueError("holds no checkpoint")
    for n, item in enumerate(items, 1):
        if not isinstance(item, dict):
            raise ValueError(f"item {n} is not a checkpoint object")
        for name, kind in _FIELDS.items():
            value = item.get(name)
            if not isinstance(value, kind) or isinstance(value, bool):
                raise ValueError(f"item {n} lacks {name!r} (a {kind.__name__})")
    return [{name: item[name] for name in _FIELDS} for item in items]


def signature_problem(checkpoint: dict[str, Any], ring: KeyRing) -> str | None:
    """Why a checkpoint's signature does not vouch for its fields (None if it does)."""
    key = ring.historic_verifier(str(checkpoint.get("kid")))
    if key is None:
        return "signed by a key that is not in the key history"
    try:
        payload = json.loads(jws.verify(checkpoint["signature"], key, algorithms=[ALGORITHM]))
    except Exception:
        return "signature does not verify"
    if (
        payload.get("seq") != checkpoint.get("seq")
        or payload.get("head_hash") != checkpoint.get("head_hash")
        or payload.get("signed_at") != checkpoint.get("signed_at")
    ):
        return "signed statement differs from the checkpoint's fields"
    return None


async def create_if_due(
    sessionmaker: async_sessionmaker[AsyncSession],
    ring: KeyRing,
    *,
    min_interval: timedelta,
    force: bool = False,
) -> dict[str, Any] | None:
    """Sign the current head if it moved and the last checkpoint is old enough."""
    async with sessionmaker() as session, session.begin():
        if not (
            await session.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": SEAL_LOCK})
        ).scalar():
            return None
        head = (
            await session.execute(
                text("SELECT position, chain_hash FROM audit_seal ORDER BY position DESC LIMIT 1")
            )
        ).first()
        if head is None:
            return None
        last = (
            await session.execute(
                text("SELECT position, signed_at FROM audit_checkpoint ORDER BY id DESC LIMIT 1")
            )
        ).first()
        now = datetime.now(UTC)
        if last is not None and last[0] == head[0]:
            return None
        if last is not None and not force and now - last[1] < min_interval:
            return None
        signed_at = now
        signature = sign(ring, seq=head[0], head_hash=bytes(head[1]), signed_at=signed_at)
        row = (
            (
                await session.execute(
                    text(
                        "INSERT INTO audit_checkpoint (position, head_hash, signed_at, kid, "
                        "signature) VALUES (:p, :h, :t, :k, :s) "
                        "RETURNING position, head_hash, signed_at, kid, signature"
                    ),
                    {
                        "p": head[0],
                        "h": bytes(head[1]),
                        "t": signed_at,
                        "k": ring.signing_kid,
                        "s": signature,
                    },
                )
            )
            .mappings()
            .one()
        )
        return as_json(dict(row))


async def list_checkpoints(
    session: AsyncSession, *, after_id: int, limit: int, from_position: int = 0
) -> list[tuple[int, dict[str, Any]]]:
    """Checkpoints oldest first (those at `from_position` or later), with their ids for paging."""
    rows = await session.execute(
        text(
            "SELECT id, position, head_hash, signed_at, kid, signature FROM audit_checkpoint "
            "WHERE id > :after AND position >= :from ORDER BY id LIMIT :n"
        ),
        {"after": after_id, "from": from_position, "n": limit},
    )
    return [(r["id"], as_json(dict(r))) for r in rows.mappings()]


def _contradicted(
    batch: list[dict[str, Any]], heads: dict[int, bytes], ring: KeyRing
) -> dict[str, Any] | None:
    """The first checkpoint of the batch whose signature or head the chain contradicts."""
    for cp in batch:
        problem = signature_problem(cp, ring)
        if problem is None:
            at = heads.get(cp["seq"])
            if at is None:
                problem = "the chain is shorter than this checkpoint (its tail was dropped)"
            elif at.hex() != cp["head_hash"]:
                problem = "the chain does not reach this checkpoint's head (it was rewritten)"
        if problem:
            return {"checkpoint": cp, "problem": problem}
    return None


async def check_against_chain(
    session: AsyncSession, ring: KeyRing, checkpoints: list[dict[str, Any]], *, batch: int = 1000
) -> dict[str, Any] | None:
    """The first checkpoint the chain or its signature contradicts (None if all hold).
    Signatures are verified in a worker thread: there is one checkpoint a minute."""
    for start in range(0, len(checkpoints), batch):
        part = checkpoints[start : start + batch]
        rows = await session.execute(
            text("SELECT position, chain_hash FROM audit_seal WHERE position = ANY(:p)"),
            {"p": sorted({cp["seq"] for cp in part})},
        )
        heads = {position: bytes(chain) for position, chain in rows}
        bad = await asyncio.to_thread(_contradicted, part, heads, ring)
        if bad is not None:
            return bad
    return None


async def stored(session: AsyncSession, *, from_position: int = 0) -> list[dict[str, Any]]:
    """Every stored checkpoint at `from_position` or later (they are few: one a minute at
    most)."""
    out: list[dict[str, Any]] = []
    after = 0
    while True:
        page = await list_checkpoints(
            session, after_id=after, limit=1000, from_position=from_position
        )
        if not page:
            return out
        out += [cp for _, cp in page]
        after = page[-1][0]
