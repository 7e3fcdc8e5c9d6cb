"""The single-submission workload: POST /v1/flags against a bare insert of the same row.

Three sides in alternating rounds at a fixed concurrency: the baseline
(benchmarks/baseline_app.py, one server for the whole run), FlagBridge with audit sealing
on and FlagBridge with sealing off (a fresh server per round, see workloads/sealing.py).
Afterwards every 201 must be a stored row, and for FlagBridge also its history event,
feed event, audit entry and idempotency key.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from collections.abc import Callable
from typing import Any

from benchmarks.harness.database import Database, connect, create_clients
from benchmarks.harness.load import LoadSpec, measure
from benchmarks.harness.profile import recording, top_frames
from benchmarks.harness.report import print_row
from benchmarks.harness.servers import (
    Server,
    app_env,
    flagbridge_env,
    start_ready,
    start_server,
    stop_server,
)
from benchmarks.workloads.sealing import audit_progress, seal_now, sealing_progress

SIDES = ("baseline", "sealing-on", "sealing-off")
# One letter per side in the generated handles, so every run's accounts are distinct.
SIDE_CODES = {"baseline": "b", "sealing-on": "n", "sealing-off": "f"}
PER_FLAG = (
    "flagbridge_open",
    "flagbridge_history",
    "flagbridge_feed",
    "flagbridge_audit",
    "flagbridge_idempotency_keys",
)


async def create_world(db: Database, run_id: str) -> dict[str, str]:
    """A platform and two agencies (FlagBridge's, the baseline's), each with a client."""
    world: dict[str, str] = {"platform": f"bench-{run_id}", "country": "ID"}
    orgs = await create_clients(
        db,
        {
            "platform": {
                "kind": "platform",
                "name": f"bench platform {run_id}",
                "platform": world["platform"],
            },
            "fb": {"kind": "agency", "name": f"bench agency {run_id}", "country": "ID"},
            "base": {"kind": "agency", "name": f"bench baseline agency {run_id}", "country": "ID"},
        },
    )
    world["platform_org"] = orgs["platform"]["id"]
    world["fb_agency_org"] = orgs["fb"]["id"]
    world["fb_client_id"], world["fb_client_secret"] = orgs["fb"]["client_id"], orgs["fb"]["secret"]
    world["base_agency_org"] = orgs["base"]["id"]
    world["base_client_id"] = orgs["base"]["client_id"]
    return world


async def count_rows(db: Database, world: dict[str, str]) -> dict[str, int]:
    """What actually landed, per side."""
    async with connect(db) as conn:
        row = await conn.fetchrow(
            """
            SELECT
              (SELECT count(*) FROM flag WHERE agency_org_id = $1) AS baseline_flags,
              (SELECT count(*) FROM flag WHERE agency_org_id = $2) AS flagbridge_flags,
              (SELECT count(*) FROM flag WHERE agency_org_id = $2 AND status = 'open')
                AS flagbridge_open,
              (SELECT count(*) FROM flag_event e JOIN flag f ON f.id = e.flag_id
                WHERE f.agency_org_id = $2 AND e.type = 'submitted') AS flagbridge_history,
              (SELECT count(*) FROM feed_event e JOIN flag f ON f.id = e.flag_id
                WHERE f.agency_org_id = $2 AND e.type = 'flag.created') AS flagbridge_feed,
              (SELECT count(*) FROM audit_entry
                WHERE actor_client_id = $3 AND action = 'flag.submitted') AS flagbridge_audit,
              (SELECT count(*) FROM idempotency_key WHERE client_id = $3)
                AS flagbridge_idempotency_keys
            """,
            uuid.UUID(world["base_agency_org"]),
            uuid.UUID(world["fb_agency_org"]),
            uuid.UUID(world["fb_client_id"]),
        )
        assert row is not None
        return {k: int(v) for k, v in dict(row).items()}


def one_run(
    spec: LoadSpec,
    db: Database,
    server: Server,
    *,
    seconds: float,
    label: str,
    round_no: int | None,
    track_sealing: bool = False,
) -> dict[str, Any]:
    """Load one server for `seconds`, record the result row and print it."""
    probe = (lambda: asyncio.run(audit_progress(db))) if track_sealing else None
    prefix = f"{spec.run_id}{SIDE_CODES[server.name]}{label}"
    row, probed = measure(spec, db, server, seconds=seconds, prefix=prefix, probe=probe)
    result = {"side": server.name, "round": round_no, "label": label, **row}
    if probed is not None:
        result["audit"] = sealing_progress(*probed)
    spec.results.append(result)
    print_row(result)
    return result


class Servers:
    """How this workload starts its servers: the baseline once, FlagBridge per round."""

    def __init__(self, args: argparse.Namespace, db: Database, world: dict[str, str]) -> None:
        self.args = args
        self.base_env = app_env(
            db,
            BENCH_AGENCY_ORG=world["base_agency_org"],
            BENCH_CLIENT_ID=world["base_client_id"],
            BENCH_COUNTRY=world["country"],
            BENCH_PLATFORM_ORG=world["platform_org"],
            BENCH_POOL_SIZE=str(args.pool_size),
        )
        self.fb_env = flagbridge_env(db, FLAGBRIDGE_DB_POOL_SIZE=str(args.pool_size))
        self.seal_seconds = {
            "sealing-on": args.seal_on_seconds,
            "sealing-off": args.seal_off_seconds,
        }

    def baseline(self) -> Server:
        """The bare FastAPI + asyncpg app (started, not yet waited for)."""
        return start_server(
            "baseline",
            ["benchmarks.baseline_app:app"],
            self.base_env,
            "/flags",
            "/healthz",
            workers=self.args.workers,
        )

    def flagbridge(self, side: str) -> Server:
        """A fresh, ready FlagBridge with this side's sealing interval."""
        env = {**self.fb_env, "FLAGBRIDGE_AUDIT_SEAL_SECONDS": str(self.seal_seconds[side])}
        app_args = [self.args.flagbridge_app, "--factory"]
        return start_ready(side, app_args, env, "/v1/flags", "/readyz", workers=self.args.workers)


def flagbridge_round(
    args: argparse.Namespace, spec: LoadSpec, db: Database, server: Server, rnd: int
) -> None:
    """An untimed warm-up, then the timed round, on a freshly started FlagBridge."""
    if args.warmup > 0:
        one_run(spec, db, server, seconds=args.warmup, label=f"w{rnd}", round_no=None)
    # --profile samples the production configuration's rounds (sealing on) with py-spy;
    # the sampler takes CPU too, so a profiled run's rates are not comparable.
    profiled = args.profile and server.name == "sealing-on"
    with recording(server.proc.pid if profiled else None, f"submission-r{rnd}") as path:
        result = one_run(
            spec,
            db,
            server,
            seconds=args.seconds,
            label=f"r{rnd}",
            round_no=rnd,
            track_sealing=server.name == "sealing-on",
        )
    if path is not None and path.exists():
        result["profile"] = {"file": str(path), **top_frames(path)}


def run_rounds(
    args: argparse.Namespace,
    spec: LoadSpec,
    db: Database,
    baseline: Server,
    start_flagbridge: Callable[[str], Server],
) -> list[tuple[int, float]]:
    """Alternate the sides round by round; returns the sealing backlogs cleared between."""
    backlog: list[tuple[int, float]] = []
    if args.warmup > 0:
        one_run(spec, db, baseline, seconds=args.warmup, label="w", round_no=None)
    for rnd in range(1, args.rounds + 1):
        one_run(spec, db, baseline, seconds=args.seconds, label=f"r{rnd}", round_no=rnd)
        for side in ("sealing-on", "sealing-off"):
            if side == "sealing-on":
                # The previous "off" round's entries: sealed now, so that the "on" round's
                # sealer works on the entries of its own round only.
                backlog.append(asyncio.run(seal_now(db)))
            server = start_flagbridge(side)
            try:
                flagbridge_round(args, spec, db, server, rnd)
            finally:
                stop_server(server)  # graceful: requests in flight finish first
    time.sleep(1.0)  # let the baseline's requests in flight at the cut-off finish
    return backlog
