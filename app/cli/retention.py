"""`flagbridge retention run`: remove personal data kept longer than the retention period."""

from __future__ import annotations

import argparse

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.cli.common import cli_actor, command, emit, fail, group, with_sessionmaker
from app.config import get_settings
from app.retention import service
from app.retention.service import RetentionRun


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the retention command group."""
    retention_sub = group(sub, "retention", help="remove personal data past its retention")
    run = command(
        retention_sub,
        "run",
        cmd_run,
        help="remove personal data of flags and holds that ended longer ago than the period",
        description="Remove the account identifiers, summaries, evidence, questions, answers, "
        "notes and reasons of flags closed or withdrawn (and holds ended) more than --days "
        "ago, the accounts' keys once no kept flag or hold names them, and feed events older "
        "than FLAGBRIDGE_FEED_RETENTION_DAYS. Every statistic stays exactly as it was and the "
        "audit log (which holds digests, never the data) is not touched. Audited as "
        "retention.run with its counts. Servers run it every FLAGBRIDGE_RETENTION_SWEEP_SECONDS "
        "when FLAGBRIDGE_RETENTION_DAYS is set.",
    )
    run.add_argument(
        "--days",
        type=int,
        default=None,
        help="retention period in days (default: FLAGBRIDGE_RETENTION_DAYS)",
    )
    run.add_argument(
        "--dry-run",
        action="store_true",
        help="count what would be removed, in a transaction that is rolled back",
    )


def cmd_run(args: argparse.Namespace) -> int:
    """Run retention once."""
    settings = get_settings()
    days = args.days if args.days is not None else settings.retention_days
    if days is None:
        return fail(args, "no retention period: give --days or set FLAGBRIDGE_RETENTION_DAYS")
    if days < 1:
        return fail(args, "--days must be at least 1")

    async def go(maker: async_sessionmaker[AsyncSession]) -> RetentionRun | None:
        return await service.run(
            sessionmaker=maker,
            days=days,
            feed_days=settings.feed_retention_days,
            dry_run=args.dry_run,
            actor_label=cli_actor(),
        )

    done = with_sessionmaker(go)
    if done is None:
        return fail(args, "another retention run holds the lock; try again later")
    out = done.as_dict()
    verb = "would remove" if done.dry_run else "removed"
    lines = [f"retention ({days} days, before {out['cutoff']}): {verb}"]
    lines += [f"  {name}: {count}" for name, count in sorted(done.counts.items())]
    emit(args, out, "\n".join(lines))
    return 0
