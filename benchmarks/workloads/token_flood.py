"""A real client's token latency while 48 parallel requests guess another client's secret.

Issue 11's numbers: with no limits, each bogus request ran a full argon2id, and a real token
call went from 24 ms to 607 ms. This runs the same flood twice on one server setup: once
with the limits out of the way (the old behaviour: no back-off, no address budget, hashing
bounded only by the thread pool) and once with the production defaults. The flood comes
from 127.0.0.1 and the real client from 127.0.0.2, as an attacker and a client are on
different addresses. Run: `python -m benchmarks.workloads.token_flood`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections import Counter
from typing import Any

import httpx

from benchmarks.harness.database import Database, connect, create_clients, open_database
from benchmarks.harness.servers import Server, flagbridge_env, start_ready, stop_server
from benchmarks.harness.timing import latency_summary

FLOOD = 48
UNLIMITED = {
    "FLAGBRIDGE_RATE_TOKEN_FREE_FAILURES": "10000",
    "FLAGBRIDGE_RATE_HASH_CONCURRENCY": "64",
    "FLAGBRIDGE_RATE_HASH_QUEUE": "10000",
}
DEFAULTS = {"FLAGBRIDGE_RATE_TOKEN_PER_ADDRESS_PER_MINUTE": "60"}


async def _real_calls(server: Server, creds: dict[str, str], stop: asyncio.Event) -> list[float]:
    """The real client's token calls, one every 500 ms, until stop; their latencies (ms),
    retries after a 429 included."""
    form = {
        "grant_type": "client_credentials",
        "client_id": creds["client_id"],
        "client_secret": creds["secret"],
    }
    transport = httpx.AsyncHTTPTransport(local_address="127.0.0.2")
    samples = []
    async with httpx.AsyncClient(transport=transport, timeout=30) as client:
        while not stop.is_set():
            started = time.perf_counter()
            resp = await client.post(server.base + "/oauth/token", data=form)
            while resp.status_code == 429:  # as app.client does: wait as told, then retry
                await asyncio.sleep(float(resp.headers["Retry-After"]))
                resp = await client.post(server.base + "/oauth/token", data=form)
            resp.raise_for_status()
            samples.append((time.perf_counter() - started) * 1000)
            await asyncio.sleep(0.5)
    return samples


async def _flood(server: Server, victim: str, stop: asyncio.Event) -> Counter[int]:
    """FLOOD parallel loops of wrong secrets for the victim's id; the statuses received."""
    form = {"grant_type": "client_credentials", "client_id": victim, "client_secret": "fbs_x"}
    statuses: Counter[int] = Counter()
    limits = httpx.Limits(max_connections=FLOOD)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:

        async def one() -> None:
            while not stop.is_set():
                statuses[
                    (await client.post(server.base + "/oauth/token", data=form)).status_code
                ] += 1

        await asyncio.gather(*(one() for _ in range(FLOOD)))
    return statuses


async def _forget_counts(db: Database) -> None:
    """Each round starts with no counts or back-offs left by the one before."""
    async with connect(db) as conn:
        await conn.execute("TRUNCATE rate_limit_window, rate_limit_backoff")


async def _round(server: Server, world: dict[str, Any], seconds: float) -> dict[str, Any]:
    stop = asyncio.Event()
    asyncio.get_running_loop().call_later(seconds, stop.set)
    quiet = await _real_calls(server, world["real"], stop)
    stop = asyncio.Event()
    asyncio.get_running_loop().call_later(seconds, stop.set)
    flooded, statuses = await asyncio.gather(
        _real_calls(server, world["real"], stop), _flood(server, world["victim"]["client_id"], stop)
    )
    return {
        "real_alone_ms": latency_summary(quiet),
        "real_under_flood_ms": latency_summary(flooded),
        "bogus_statuses": dict(statuses),
    }


def main() -> None:
    """Both rounds; prints a JSON report."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each phase (5)")
    args = parser.parse_args()
    db, _ = open_database("flagbridge_token_flood")
    world = asyncio.run(
        create_clients(
            db,
            {
                "victim": {"kind": "agency", "name": "victim", "country": "ID"},
                "real": {"kind": "agency", "name": "real", "country": "SG"},
            },
        )
    )
    report = {}
    for name, env in (("no limits", UNLIMITED), ("limits (defaults)", DEFAULTS)):
        server = start_ready(
            "token-flood",
            ["app.main:create_app", "--factory"],
            flagbridge_env(db, **env),
            "/oauth/token",
            "/readyz",
        )
        try:
            asyncio.run(_forget_counts(db))
            report[name] = asyncio.run(_round(server, world, args.seconds))
        finally:
            stop_server(server)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
