"""`flagbridge worker`: a webhook delivery process (run as many as you like)."""

from __future__ import annotations

import argparse
import asyncio
import signal

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.cli.common import emit, json_parent, with_sessionmaker
from app.config import get_settings
from app.webhooks.worker import DeliveryWorker


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the worker command."""
    worker = sub.add_parser(
        "worker",
        parents=[json_parent],
        help="deliver webhooks until stopped (SIGTERM/SIGINT); any number may run at once",
        description="Claim due webhook deliveries and POST them, signed. Every `serve` "
        "process also runs one unless FLAGBRIDGE_WEBHOOK_WORKER_IN_SERVE=false; separate "
        "workers let delivery scale apart from the API.",
    )
    worker.add_argument("--once", action="store_true", help="deliver what is due now, then exit")
    worker.set_defaults(func=cmd_worker)


def cmd_worker(args: argparse.Namespace) -> int:
    """Run a delivery worker."""
    settings = get_settings()

    async def run(maker: async_sessionmaker[AsyncSession]) -> int:
        worker = DeliveryWorker(maker, settings)
        if args.once:
            return await worker.drain()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await worker.run_forever(stop)
        return 0

    claimed = with_sessionmaker(run)
    emit(args, {"claimed": claimed}, f"claimed {claimed} deliveries")
    return 0
