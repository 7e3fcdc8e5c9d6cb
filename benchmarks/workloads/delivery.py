"""Feed delivery and platform answers, as the platform of the batch workload sees them.

First delivery: the platform follows its feed from the start in pages of `page` events;
each page hands new flags over (sets `delivered_at`, writes their `delivered` history).
Re-read: the same pages again, from the same cursors (nothing new to hand over). Answers:
POST /v1/outcomes/batch with acks of every delivered flag, then outcomes, `size` at a time.
Run on its own (`python -m benchmarks.workloads.delivery`), it also prints the server's and
PostgreSQL's CPU per item of each phase (`cpu_us_per_item`).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any

from benchmarks.harness.timing import latency_summary

Watch = Callable[[str], AbstractContextManager[object]]
"""Wraps one phase (first, reread, ack, outcome) so the caller can meter its CPU."""


def _unwatched(_: str) -> AbstractContextManager[object]:
    return contextlib.nullcontext()


def _page_stats(samples: list[float], items: int) -> dict[str, Any]:
    seconds = sum(samples) / 1000
    return {
        "pages": len(samples),
        "items": items,
        "seconds": round(seconds, 3),
        "items_per_s": round(items / seconds, 1) if seconds else 0.0,
        "per_page": latency_summary(samples) if samples else None,
    }


def read_feed(base: str, token: str, *, page: int, watch: Watch = _unwatched) -> dict[str, Any]:
    """Follow the feed from the start (first delivery), then read the same pages again."""
    import httpx

    cursors: list[str | None] = [None]
    first: list[float] = []
    again: list[float] = []
    delivered = 0
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, headers=headers, timeout=120.0) as client:

        def get(cursor: str | None) -> tuple[dict[str, Any], float]:
            params: dict[str, Any] = {"limit": page}
            if cursor is not None:
                params["cursor"] = cursor
            started = time.perf_counter()
            resp = client.get("/v1/feed", params=params)
            ms = (time.perf_counter() - started) * 1000
            resp.raise_for_status()
            return resp.json(), ms

        with watch("first"):
            while True:
                body, ms = get(cursors[-1])
                if not body["items"]:
                    break
                first.append(ms)
                delivered += sum(1 for i in body["items"] if i["type"] == "flag.created")
                cursors.append(body["next_cursor"])
        reread = 0
        with watch("reread"):
            for cursor in cursors[:-1]:
                body, ms = get(cursor)
                again.append(ms)
                reread += len(body["items"])
    return {
        "page": page,
        "flags_handed_over": delivered,
        "first": _page_stats(first, delivered),
        "reread": _page_stats(again, reread),
    }


def answer_batches(
    base: str, token: str, flag_ids: list[str], *, size: int, watch: Watch = _unwatched
) -> dict[str, Any]:
    """Acks of every flag, then an outcome for each, in POST /v1/outcomes/batch of `size`."""
    import httpx

    out: dict[str, Any] = {}
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, headers=headers, timeout=300.0) as client:
        for kind, extra in (("ack", {}), ("outcome", {"action": "account_suspended"})):
            samples: list[float] = []
            done = failed = 0
            first_failure = None
            bodies = [
                {"items": [{"flag_id": f, "type": kind, **extra} for f in flag_ids[at:][:size]]}
                for at in range(0, len(flag_ids), size)
            ]
            with watch(kind):
                for body in bodies:
                    started = time.perf_counter()
                    resp = client.post("/v1/outcomes/batch", json=body)
                    samples.append((time.perf_counter() - started) * 1000)
                    resp.raise_for_status()
                    for result in resp.json()["results"]:
                        if result["status"] == 200:
                            done += 1
                        else:
                            failed += 1
                            first_failure = first_failure or result
            seconds = sum(samples) / 1000
            out[kind] = {
                "items": done,
                "failed": failed,
                "first_failure": first_failure,
                "seconds": round(seconds, 3),
                "items_per_s": round(done / seconds, 1) if seconds else 0.0,
                "per_batch": latency_summary(samples) if samples else None,
            }
    return out


def _cpu_per_item(cpu: dict[str, float | None], items: int) -> dict[str, float | None]:
    """Server, PostgreSQL and other CPU microseconds per item of one phase: the figure that
    survives a shared machine, where wall-clock rates do not."""

    def per(value: float | None) -> float | None:
        return round(value * 1e6 / items, 1) if value is not None and items else None

    return {
        "server": per(cpu["server_cpu_s"]),
        "postgres": per(cpu["postgres_cpu_s"]),
        "other": per(cpu["other_cpu_s"]),
    }


def main(argv: list[str] | None = None) -> int:
    """Only the delivery and answer paths, on a fresh platform: several rounds in one run, so
    a change can be compared with its base in the same session of a shared machine."""
    import argparse
    import asyncio
    import json
    import uuid

    from benchmarks.harness.database import checkpoint, open_database
    from benchmarks.harness.load import CpuMeter
    from benchmarks.harness.profile import recording, top_frames
    from benchmarks.harness.servers import fetch_token, flagbridge_env, start_ready, stop_server
    from benchmarks.workloads.batch import create_paths_world, submit_batches

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--rounds", type=int, default=3, help="fresh platforms, one after another")
    parser.add_argument("--batches", type=int, default=4, help="batches of flags per round (4)")
    parser.add_argument("--size", type=int, default=1000, help="flags per batch and answers (1000)")
    parser.add_argument("--page", type=int, default=500, help="feed page size (500)")
    parser.add_argument("--profile", action="store_true", help="py-spy the server per path")
    args = parser.parse_args(argv)
    db, _ = open_database("flagbridge_bench_delivery")
    server = start_ready(
        "flagbridge-delivery", ["app.main:create_app", "--factory"], flagbridge_env(db),
        "/v1/feed", "/readyz",
    )  # fmt: skip
    rounds: list[dict[str, Any]] = []
    try:
        for n in range(args.rounds):
            run_id = f"{uuid.uuid4().hex[:8]}"
            world = asyncio.run(create_paths_world(db, run_id))
            agency = fetch_token(server, world["agency_client_id"], world["agency_secret"])
            platform = fetch_token(server, world["platform_client_id"], world["platform_secret"])
            batch = submit_batches(
                server.base, agency, world["platform"], f"{run_id}q",
                batches=args.batches, size=args.size,
            )  # fmt: skip
            out: dict[str, Any] = {"profiles": {}, "cpu": {}}
            asyncio.run(checkpoint(db))

            @contextlib.contextmanager
            def watch(phase: str, cpu: dict[str, Any] = out["cpu"]) -> Iterator[None]:
                meter = CpuMeter(server.proc.pid, db.postmaster_pid)
                meter.start()
                yield
                cpu[phase] = meter.stop()

            pid = server.proc.pid if args.profile and n == args.rounds - 1 else None
            with recording(pid, "delivery-feed") as path:
                out["feed"] = read_feed(server.base, platform, page=args.page, watch=watch)
            if path is not None and path.exists():
                out["profiles"]["feed"] = top_frames(path)
            with recording(pid, "delivery-answers") as path:
                out["answers"] = answer_batches(
                    server.base, platform, batch["flag_ids"], size=args.size, watch=watch
                )
            if path is not None and path.exists():
                out["profiles"]["answers"] = top_frames(path)
            rounds.append(out)
            items = {
                "first": out["feed"]["first"]["items"],
                "reread": out["feed"]["reread"]["items"],
                **{kind: v["items"] for kind, v in out["answers"].items()},
            }
            summary = {
                "cpu_us_per_item": {
                    phase: _cpu_per_item(out["cpu"][phase], items[phase]) for phase in items
                },
                "first_items_per_s": out["feed"]["first"]["items_per_s"],
                "first_page": out["feed"]["first"]["per_page"],
                "reread_page": out["feed"]["reread"]["per_page"],
                **{f"{k}_items_per_s": v["items_per_s"] for k, v in out["answers"].items()},
                **{f"{k}_failed": v["failed"] for k, v in out["answers"].items()},
            }
            print(json.dumps(summary), flush=True)
    finally:
        stop_server(server)
    print(json.dumps(rounds[-1]["profiles"], indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
