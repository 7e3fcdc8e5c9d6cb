"""Statistics and the transparency page at scale, on the seeded database of stats_scale.py.

The seeding (organisations, closed and live flags, reports, rollups rebuilt) is
benchmarks/stats_scale.py's, in its own database (flagbridge_stats_bench), so the
submission workloads' rows never mix with it. A database already loaded with the same
number of flags is kept (`--reuse-stats`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from benchmarks import stats_scale
from benchmarks.harness.database import DATA_DIR, Database, open_database
from benchmarks.harness.profile import recording
from benchmarks.harness.servers import fetch_token, stop_server, worker_rss_mb
from benchmarks.harness.timing import latency_summary, timed

MONTHS = 24
WORLD = DATA_DIR / "stats-world.json"


def parse_scale(text: str) -> int:
    """'1m' -> 1_000_000, '250k' -> 250_000, '5000' -> 5000 (at least 1000)."""
    units = {"k": 1_000, "m": 1_000_000}
    text = text.strip().lower()
    number = float(text[:-1]) * units[text[-1]] if text[-1] in units else float(text)
    if number < 1000:
        raise argparse.ArgumentTypeError("the scale is at least 1000 flags")
    return int(number)


def seed(flags: int, *, reuse: bool) -> tuple[Database, dict[str, Any], dict[str, float]]:
    """The stats database with `flags` closed flags: (database, world, load timings)."""
    db, fresh = open_database(stats_scale.DATABASE, reuse=reuse)
    if not fresh and WORLD.exists():
        world = json.loads(WORLD.read_text())
        if world.get("flags") == flags:
            return db, world, {}
        db, _ = open_database(stats_scale.DATABASE)  # loaded at another scale: start over
    world = asyncio.run(stats_scale.create_world(db))
    print(f"seeding {flags:,} closed flags over {MONTHS} months ...", flush=True)
    timings = asyncio.run(stats_scale.load(db, argparse.Namespace(flags=flags, months=MONTHS)))
    world["flags"] = flags
    WORLD.write_text(json.dumps(world))
    return db, world, timings


def _time(client: Any, path: str, params: dict[str, str], repeat: int) -> dict[str, Any]:
    """3 untimed requests, then `repeat` timed ones, each must be a 200."""
    for _ in range(3):
        client.get(path, params=params).raise_for_status()
    samples = []
    for _ in range(repeat):
        resp, ms = timed(lambda: client.get(path, params=params))
        resp.raise_for_status()
        samples.append(ms)
    return {"path": path, "params": params, **latency_summary(samples)}


def measure(
    args: argparse.Namespace, flags: int, repeat: int
) -> tuple[dict[str, Any], list[float]]:
    """Seed, start FlagBridge on the stats database, time the questions; results and RSS."""
    import httpx

    db, world, timings = seed(flags, reuse=args.reuse_stats)
    rows = asyncio.run(stats_scale.sizes(db))
    today = datetime.now(UTC).date()
    span_from = (today.replace(day=1) - timedelta(days=31 * (MONTHS - 1))).replace(day=1)
    server = stats_scale.start_stats_server(db, workers=args.workers)
    try:
        token = fetch_token(server, world["observer_client_id"], world["observer_secret"])
        with (
            recording(server.proc.pid if args.profile else None, "stats"),
            httpx.Client(base_url=server.base, timeout=60.0) as client,
        ):
            client.headers["Authorization"] = f"Bearer {token}"
            outcomes = _time(
                client,
                "/v1/stats/outcomes",
                {
                    "from": span_from.isoformat(),
                    "to": (today + timedelta(days=1)).isoformat(),
                    "group_by": "country,platform,month",
                },
                repeat,
            )
            del client.headers["Authorization"]  # the public page takes no token
            transparency = _time(client, "/transparency", {}, max(3, repeat // 5))
        rss = worker_rss_mb(server)
    finally:
        stop_server(server)
    return {
        "flags": flags,
        "rows": rows,
        "load": timings,
        "outcomes_by_country_platform_month": outcomes,
        "transparency": transparency,
    }, rss
