"""A small HTTP/1.1 keep-alive load generator, used by run.py when `wrk` is not installed.

Same requests as benchmarks/submit.lua: every request flags a new account handle
"<prefix>_<connection>_<n>" with that string as its Idempotency-Key. Prints one JSON object
with the same fields as the wrk script's BENCH_JSON line. It speaks only to the host and
port it is given (run.py gives it 127.0.0.1) and stops after --seconds.

It costs far more CPU per request than wrk, which on a small machine takes CPU away from
the servers under test; prefer wrk (`apt-get install wrk`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
from urllib.parse import urlsplit

LEGAL_BASIS = "Law No. 5/2018 on the Eradication of Criminal Acts of Terrorism, Art. 13A"
SUMMARY = "Account distributes recruitment videos for a proscribed organisation."
EVIDENCE_URL = "https://evidence.example.gov/case/1/capture.png"


def body_for(platform: str, handle: str) -> bytes:
    """The submission body for one account handle (the same as submit.lua's)."""
    return json.dumps(
        {
            "platform": platform,
            "account": {"handle": handle},
            "category": "propaganda",
            "legal_basis": LEGAL_BASIS,
            "summary": SUMMARY,
            "evidence": [{"url": EVIDENCE_URL}],
        },
        separators=(",", ":"),
    ).encode()


class Stats:
    """What the connections observed."""

    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.created = 0
        self.other = 0
        self.first_error = ""
        self.errors = {"connect": 0, "read": 0, "write": 0, "status": 0, "timeout": 0}


async def connection(
    index: int,
    host: str,
    port: int,
    path: str,
    args: argparse.Namespace,
    deadline: float,
    stats: Stats,
) -> None:
    """One keep-alive connection sending requests back to back until the deadline."""
    try:
        reader, writer = await asyncio.open_connection(host, port)
    except OSError:
        stats.errors["connect"] += 1
        return
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {args.token}\r\n"
    )
    n = 0
    try:
        while time.perf_counter() < deadline:
            n += 1
            key = f"{args.prefix}_{index}_{n}"
            body = body_for(args.platform, key)
            request = (
                f"{head}Idempotency-Key: {key}\r\nContent-Length: {len(body)}\r\n\r\n"
            ).encode() + body
            started = time.perf_counter()
            writer.write(request)
            try:
                async with asyncio.timeout(max(0.1, deadline - time.perf_counter()) + 2.0):
                    status_line = await reader.readline()
                    if not status_line:
                        stats.errors["read"] += 1
                        return
                    status = int(status_line.split()[1])
                    length = 0
                    while True:
                        line = await reader.readline()
                        if line in (b"\r\n", b""):
                            break
                        name, _, value = line.partition(b":")
                        if name.strip().lower() == b"content-length":
                            length = int(value)
                    payload = await reader.readexactly(length)
            except TimeoutError:
                stats.errors["timeout"] += 1
                return
            except (OSError, asyncio.IncompleteReadError):
                stats.errors["read"] += 1
                return
            if time.perf_counter() > deadline:
                return  # finished after the cut-off: not counted, like wrk
            stats.latencies.append(time.perf_counter() - started)
            if status == 201:
                stats.created += 1
            else:
                stats.other += 1
                if status >= 400:
                    stats.errors["status"] += 1
                if not stats.first_error:
                    stats.first_error = f"{status} {payload[:300].decode(errors='replace')}"
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


def percentile(sorted_values: list[float], pct: float) -> float:
    """Nearest-rank percentile of already-sorted values."""
    if not sorted_values:
        return 0.0
    rank = max(0, min(len(sorted_values) - 1, round(pct / 100 * len(sorted_values)) - 1))
    return sorted_values[rank]


async def run(args: argparse.Namespace) -> dict[str, object]:
    """Drive --connections connections for --seconds and summarise like the wrk script."""
    parts = urlsplit(args.url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    stats = Stats()
    started = time.perf_counter()
    deadline = started + args.seconds
    await asyncio.gather(
        *(
            connection(i + 1, host, port, parts.path or "/", args, deadline, stats)
            for i in range(args.connections)
        )
    )
    duration = min(time.perf_counter(), deadline) - started
    lat = sorted(stats.latencies)
    us = 1_000_000
    return {
        "requests": len(lat),
        "duration_us": int(duration * us),
        "created": stats.created,
        "other_status": stats.other,
        "first_error": stats.first_error,
        "errors": stats.errors,
        "latency_us": {
            "mean": (sum(lat) / len(lat) * us) if lat else 0.0,
            "p50": int(percentile(lat, 50) * us),
            "p90": int(percentile(lat, 90) * us),
            "p99": int(percentile(lat, 99) * us),
            "max": int((lat[-1] if lat else 0.0) * us),
        },
    }


def main() -> int:
    """Parse arguments, run, print the JSON summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="http://127.0.0.1:PORT/path")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--prefix", required=True, help="account handle prefix (lower case)")
    parser.add_argument("--platform", required=True)
    parser.add_argument("--token", default="-")
    args = parser.parse_args()
    try:
        import uvloop
    except ImportError:
        result = asyncio.run(run(args))
    else:
        result = uvloop.run(run(args))
    sys.stdout.write("BENCH_JSON " + json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
