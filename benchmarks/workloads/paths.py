"""Every other write and read path on one FlagBridge server, each beside its anchor.

In order, on a server of its own (`--workers` workers) and a platform of its own: the
batch anchor (the database alone) and POST /v1/flags/batch; the platform's first delivery
of those flags and a re-read of the same feed pages; acks and outcomes of every flag in
batches; token issue under wrk. Then the server's resident memory per worker.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import uuid
from collections.abc import Iterator
from typing import Any

from benchmarks.harness.database import Database, checkpoint, connect
from benchmarks.harness.load import CpuMeter, run_script
from benchmarks.harness.profile import recording, top_frames
from benchmarks.harness.servers import (
    Server,
    fetch_token,
    flagbridge_env,
    start_ready,
    stop_server,
    worker_rss_mb,
)
from benchmarks.harness.timing import timed
from benchmarks.workloads.batch import anchor_batches, create_paths_world, submit_batches
from benchmarks.workloads.delivery import answer_batches, read_feed

PAGE = 500
TOKEN_CONNECTIONS = 4


async def delivered(db: Database, platform_org: str) -> int:
    """Flags of the platform marked delivered."""
    async with connect(db) as conn:
        return int(
            await conn.fetchval(
                "SELECT count(*) FROM flag WHERE platform_org_id = $1 AND delivered_at IS NOT NULL",
                uuid.UUID(platform_org),
            )
        )


def token_rate(wrk: str | None, server: Server, world: dict[str, str], seconds: float) -> Any:
    """Tokens issued per second: wrk at a few connections, or sequential requests without it."""
    client_id, secret = world["platform_client_id"], world["platform_secret"]
    if wrk is None:
        done, ms = timed(
            lambda: [fetch_token(server, client_id, secret) for _ in range(int(seconds * 10))]
        )
        return {"generator": "python (sequential)", "rps": round(len(done) * 1000 / ms, 1)}
    raw = run_script(
        wrk,
        "token.lua",
        server.base + "/oauth/token",
        seconds=seconds,
        concurrency=TOKEN_CONNECTIONS,
        script_args=[client_id, secret],
    )
    duration = raw["duration_us"] / 1e6
    return {
        "generator": f"wrk, {TOKEN_CONNECTIONS} connections",
        "requests": raw["requests"],
        "ok": raw["created"],
        "non_200": raw["other_status"],
        "first_error": raw["first_error"] or None,
        "rps": round(raw["created"] / duration, 1) if duration else 0.0,
        "p99_ms": round(raw["latency_us"]["p99"] / 1000, 2),
    }


@contextlib.contextmanager
def _watched(
    args: argparse.Namespace, db: Database, server: Server, name: str, out: dict[str, Any]
) -> Iterator[None]:
    """CPU seconds of the server and of PostgreSQL while the block runs (where the time
    goes), and a py-spy recording of the server when --profile asks for one."""
    asyncio.run(checkpoint(db))
    meter = CpuMeter(server.proc.pid, db.postmaster_pid)
    with recording(server.proc.pid if args.profile else None, name) as path:
        meter.start()
        yield
        cpu = meter.stop()
    out["cpu"][name] = {k: round(v, 2) if v is not None else None for k, v in cpu.items()}
    if path is not None and path.exists():
        out["profiles"][name] = {"file": str(path), **top_frames(path)}


def run(
    args: argparse.Namespace, db: Database, base_world: dict[str, str], run_id: str, wrk: Any
) -> dict[str, Any]:
    """Measure batch, delivery, answers and tokens; stop the server; return the results."""
    world = asyncio.run(create_paths_world(db, run_id))
    out: dict[str, Any] = {"cpu": {}, "profiles": {}}
    asyncio.run(checkpoint(db))
    out["batch_anchor"] = asyncio.run(
        anchor_batches(db, base_world, f"{run_id}a", batches=args.batches, size=args.batch_size)
    )
    server = start_ready(
        "flagbridge-paths",
        [args.flagbridge_app, "--factory"],
        flagbridge_env(db, FLAGBRIDGE_DB_POOL_SIZE=str(args.pool_size)),
        "/v1/flags/batch",
        "/readyz",
        workers=args.workers,
    )
    try:
        agency = fetch_token(server, world["agency_client_id"], world["agency_secret"])
        platform = fetch_token(server, world["platform_client_id"], world["platform_secret"])
        with _watched(args, db, server, "batch", out):
            batch = submit_batches(
                server.base, agency, world["platform"], f"{run_id}q",
                batches=args.batches, size=args.batch_size,
            )  # fmt: skip
        flag_ids = batch.pop("flag_ids")
        out["batch"] = batch
        with _watched(args, db, server, "delivery", out):
            out["feed"] = read_feed(server.base, platform, page=PAGE)
        out["feed"]["delivered_at_set"] = asyncio.run(delivered(db, world["platform_org"]))
        with _watched(args, db, server, "outcomes", out):
            out["answers"] = answer_batches(server.base, platform, flag_ids, size=args.batch_size)
        out["token"] = token_rate(wrk, server, world, args.token_seconds)
        out["rss_mb_per_worker"] = worker_rss_mb(server)
    finally:
        stop_server(server)
    return out
