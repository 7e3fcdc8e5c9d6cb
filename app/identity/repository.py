"""Every SQL statement of account identity (the request's session)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession


async def profiles_of(session: AsyncSession, platforms: set[str]) -> dict[str, str]:
    """The identity profile of each registered platform among `platforms`."""
    rows = await session.execute(
        text(
            "SELECT platform, identity_profile FROM organization "
            "WHERE kind = 'platform' AND platform = ANY(:p)"
        ),
        {"p": sorted(platforms)},
    )
    return {r[0]: r[1] for r in rows}


async def resolve(
    session: AsyncSession, *, platform: str, keys: list[dict[str, str]]
) -> tuple[uuid.UUID | None, dict[str, Any] | None]:
    """fb_resolve_account: (account id, None), or (None, the 409 problem document)."""
    row = (
        await session.execute(
            text(
                "SELECT r.account_id, fb_account_conflict(r.conflict)::text "
                "FROM fb_resolve_account(:p, CAST(:k AS jsonb)) AS r"
            ),
            {"p": platform, "k": json.dumps(keys)},
        )
    ).one()
    return row[0], (json.loads(row[1]) if row[1] is not None else None)


async def accounts_of_keys(
    session: AsyncSession, *, platform: str, keys: list[str]
) -> dict[str, uuid.UUID]:
    """Which account each of these keys is bound to (unbound keys are left out)."""
    rows = await session.execute(
        text(
            "SELECT key, account_id FROM account_key WHERE platform = :p AND key = ANY(:k) "
            "ORDER BY key FOR UPDATE"
        ),
        {"p": platform, "k": keys},
    )
    return {r[0]: r[1] for r in rows}


async def lock_accounts(session: AsyncSession, ids: list[uuid.UUID]) -> None:
    """Lock account rows in a fixed order (the order fb_resolve_account cannot deadlock on)."""
    await session.execute(
        text("SELECT 1 FROM account WHERE id = ANY(:ids) ORDER BY id FOR UPDATE"), {"ids": ids}
    )


async def id_key_of(session: AsyncSession, account_id: uuid.UUID) -> str | None:
    """The `id:` key bound to an account, if any."""
    return (
        await session.execute(
            text("SELECT key FROM account_key WHERE account_id = :a AND key LIKE 'id:%'"),
            {"a": account_id},
        )
    ).scalar()


async def bind_key(
    session: AsyncSession, *, platform: str, key: str, account_id: uuid.UUID
) -> None:
    """Bind a key to an account on the platform's word (moving it if bound elsewhere)."""
    await session.execute(
        text(
            "INSERT INTO account_key (platform, key, account_id, bound_by) "
            "VALUES (:p, :k, :a, 'platform') ON CONFLICT (platform, key) DO UPDATE "
            "SET account_id = EXCLUDED.account_id, bound_by = 'platform'"
        ),
        {"p": platform, "k": key, "a": account_id},
    )


async def release_key(session: AsyncSession, *, platform: str, key: str) -> None:
    """Forget a key (a handle the account no longer has)."""
    await session.execute(
        text("DELETE FROM account_key WHERE platform = :p AND key = :k"),
        {"p": platform, "k": key},
    )


async def live_flags_by_agency(
    session: AsyncSession, account_ids: list[uuid.UUID]
) -> list[dict[str, Any]]:
    """Live flags on these accounts, oldest first (locked), to find same-agency pairs."""
    rows = await session.execute(
        text(
            "SELECT * FROM flag WHERE account_id = ANY(:ids) "
            "AND status NOT IN ('closed', 'withdrawn') ORDER BY submitted_at, id FOR UPDATE"
        ),
        {"ids": account_ids},
    )
    return [dict(r._mapping) for r in rows]


async def move_account(session: AsyncSession, *, source: uuid.UUID, target: uuid.UUID) -> None:
    """Move every key, flag and hold of `source` to `target`, then delete `source`."""
    for table in ("account_key", "flag", "hold"):
        await session.execute(
            text(f"UPDATE {table} SET account_id = :t WHERE account_id = :s"),  # noqa: S608
            {"s": source, "t": target},
        )
    await session.execute(text("DELETE FROM account WHERE id = :s"), {"s": source})


async def handle_keys_of(session: AsyncSession, account_id: uuid.UUID) -> list[str]:
    """The `handle:` keys bound to an account."""
    rows = await session.execute(
        text("SELECT key FROM account_key WHERE account_id = :a AND key LIKE 'handle:%'"),
        {"a": account_id},
    )
    return [r[0] for r in rows]
