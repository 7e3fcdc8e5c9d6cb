"""`flagbridge stats ...`: maintenance of the statistics rollups."""

from __future__ import annotations

import argparse
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.audit import service as audit
from app.cli.common import cli_actor, command, emit, group, in_transaction, with_sessionmaker
from app.stats import service


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the stats command group."""
    stats_sub = group(sub, "stats", help="maintain the statistics rollups")
    command(
        stats_sub,
        "fold",
        cmd_fold,
        help="fold committed rollup rows into one row per key now (servers do it every "
        "FLAGBRIDGE_STATS_FOLD_SECONDS; answers are exact either way)",
    )
    command(
        stats_sub,
        "rebuild",
        cmd_rebuild,
        help="recompute every rollup from the flags (repair); reports any drift it fixed",
        description="Recompute every statistics rollup from the flag table in one "
        "transaction, and say how far the old rollup was from a direct count. Writers to "
        "flag wait while it runs (seconds at a million flags); readers go on. Audited as "
        "stats.rebuilt.",
    )


def cmd_fold(args: argparse.Namespace) -> int:
    """Fold rollup stripes now."""

    async def run(maker: async_sessionmaker[AsyncSession]) -> int:
        return await service.fold_stripes(sessionmaker=maker)

    moved = with_sessionmaker(run)
    emit(args, {"folded": moved}, f"folded {moved} rollup rows")
    return 0


_CLOSED_IN_ROLLUP = (
    "SELECT (SELECT coalesce(sum(flags), 0) FROM outcome_rollup_day)::bigint AS rollup, "
    "(SELECT count(*) FROM flag WHERE status IN ('closed', 'reconsideration')) AS direct"
)


def cmd_rebuild(args: argparse.Namespace) -> int:
    """Recompute the rollups from the flags."""

    async def run(session: AsyncSession) -> dict[str, Any]:
        before = (await session.execute(text(_CLOSED_IN_ROLLUP))).one()
        await session.execute(text("SELECT fb_stats_rebuild()"))
        after = (await session.execute(text(_CLOSED_IN_ROLLUP))).one()
        out = {
            "closed_flags": after.direct,
            "rollup_before": before.rollup,
            "rollup_after": after.rollup,
            "drift_fixed": before.direct - before.rollup,
        }
        await audit.record(
            session=session,
            actor=None,
            actor_label=cli_actor(),
            action="stats.rebuilt",
            object_type="stats",
            object_id="rollups",
            data=out,
        )
        return out

    out = in_transaction(run)
    emit(
        args,
        out,
        f"rebuilt the rollups from {out['closed_flags']} closed flags "
        f"(they counted {out['rollup_before']} before; drift fixed: {out['drift_fixed']})",
    )
    return 0
