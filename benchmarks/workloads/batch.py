"""Batch submission: POST /v1/flags/batch of new flags, against the database alone writing
the same rows set-based (one statement per batch through asyncpg, nothing in between).

Both sides write a batch's flags in one request or statement, sequentially. The anchor
writes, per flag, what one submission writes (app/flags/sql/submit.sql): an account, its
canonical key, the flag, its `submitted` history event, its `flag.created` feed event and
its `flag.submitted` audit entry.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from benchmarks.harness.database import Database, connect, create_clients
from benchmarks.harness.timing import latency_summary

LEGAL_BASIS = "Law No. 5/2018 on the Eradication of Criminal Acts of Terrorism, Art. 13A"
SUMMARY = "Account distributes recruitment videos for a proscribed organisation."
EVIDENCE = [{"url": "https://evidence.example.gov/case/1/capture.png"}]


async def create_paths_world(db: Database, run_id: str) -> dict[str, str]:
    """Its own platform (so its feed holds only the batches' flags), an agency, an observer."""
    platform = f"benchp-{run_id}"
    orgs = await create_clients(
        db,
        {
            "platform": {"kind": "platform", "name": f"paths platform {run_id}",
                         "platform": platform},
            "agency": {"kind": "agency", "name": f"paths agency {run_id}", "country": "ID"},
        },
    )  # fmt: skip
    return {
        "platform": platform,
        "platform_org": orgs["platform"]["id"],
        "platform_client_id": orgs["platform"]["client_id"],
        "platform_secret": orgs["platform"]["secret"],
        "agency_org": orgs["agency"]["id"],
        "agency_client_id": orgs["agency"]["client_id"],
        "agency_secret": orgs["agency"]["secret"],
    }


def flag_body(platform: str, handle: str) -> dict[str, Any]:
    """One new flag, the same as submit.lua sends."""
    return {
        "platform": platform,
        "account": {"handle": handle},
        "category": "propaganda",
        "legal_basis": LEGAL_BASIS,
        "summary": SUMMARY,
        "evidence": EVIDENCE,
    }


def submit_batches(
    base: str, token: str, platform: str, prefix: str, *, batches: int, size: int
) -> dict[str, Any]:
    """`batches` sequential POST /v1/flags/batch of `size` new flags; ids of those created."""
    import httpx

    samples: list[float] = []
    flag_ids: list[str] = []
    failed: list[dict[str, Any]] = []
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, headers=headers, timeout=300.0) as client:
        for b in range(batches):
            body = {"flags": [flag_body(platform, f"{prefix}{b}_{i}") for i in range(size)]}
            started = time.perf_counter()
            resp = client.post(
                "/v1/flags/batch", json=body, headers={"Idempotency-Key": f"{prefix}{b}"}
            )
            samples.append((time.perf_counter() - started) * 1000)
            resp.raise_for_status()
            for item in resp.json()["results"]:
                if item["status"] == 201:
                    flag_ids.append(item["flag"]["id"])
                else:
                    failed.append(item)
    seconds = sum(samples) / 1000
    return {
        "batches": batches,
        "size": size,
        "flags": len(flag_ids),
        "failed": len(failed),
        "first_failure": failed[0] if failed else None,
        "seconds": round(seconds, 3),
        "flags_per_s": round(len(flag_ids) / seconds, 1) if seconds else 0.0,
        "per_batch": latency_summary(samples),
        "flag_ids": flag_ids,
    }


# One statement per batch: every row a submission writes, for every flag of the batch.
ANCHOR_SQL = """
WITH acc AS (
    INSERT INTO account (platform, handle)
    SELECT $1, h FROM unnest($2::text[]) AS h
    RETURNING id, handle
), keys AS (
    INSERT INTO account_key (platform, key, account_id, bound_by)
    SELECT $1, 'handle:' || handle, id, 'agency' FROM acc
), fl AS (
    INSERT INTO flag (agency_org_id, submitted_by_client_id, country, platform, platform_org_id,
                      account_id, account_ref, kind, category, priority, legal_basis,
                      summary, evidence, status, submitted_at, opened_at, due_at)
    SELECT $3, $4, 'ID', $1, $5, acc.id,
           jsonb_build_object('id', NULL, 'handle', acc.handle, 'url', NULL),
           'referral', 'propaganda', 'standard', $6, $7,
           $8::jsonb, 'open', now(), now(), now() + interval '1 day'
    FROM acc
    RETURNING id, account_id, kind, category, priority, due_at, status
), hist AS (
    INSERT INTO flag_event (flag_id, type, actor_org_id, actor_client_id)
    SELECT id, 'submitted', $3, $4 FROM fl
), feed AS (
    INSERT INTO feed_event (recipient_org_id, type, flag_id)
    SELECT $5, 'flag.created', id FROM fl
)
INSERT INTO audit_entry (actor_client_id, actor_org_id, client_ip, request_id, action,
                         object_type, object_id, data)
SELECT $4, $3, '127.0.0.1', 'bench-anchor', 'flag.submitted', 'flag', fl.id::text,
       jsonb_build_object('status', fl.status, 'platform', $1::text,
                          'account_id', fl.account_id, 'kind', fl.kind,
                          'category', fl.category, 'priority', fl.priority,
                          'due_at', fb_ts(fl.due_at), 'external_ref', NULL,
                          'evidence_count', 1,
                          'summary_sha256', encode(sha256(convert_to($7, 'UTF8')), 'hex'),
                          'legal_basis_sha256', encode(sha256(convert_to($6, 'UTF8')), 'hex'))
FROM fl
"""


async def anchor_batches(
    db: Database, world: dict[str, str], prefix: str, *, batches: int, size: int
) -> dict[str, Any]:
    """The database alone: the same batches as single statements, sequentially."""
    samples: list[float] = []
    async with connect(db) as conn:
        for b in range(batches):
            handles = [f"{prefix}{b}_{i}" for i in range(size)]
            started = time.perf_counter()
            await conn.execute(
                ANCHOR_SQL,
                world["platform"],
                handles,
                uuid.UUID(world["base_agency_org"]),
                uuid.UUID(world["base_client_id"]),
                uuid.UUID(world["platform_org"]),
                LEGAL_BASIS,
                SUMMARY,
                json.dumps(EVIDENCE),
            )
            samples.append((time.perf_counter() - started) * 1000)
    seconds = sum(samples) / 1000
    flags = batches * size
    return {
        "batches": batches,
        "size": size,
        "flags": flags,
        "seconds": round(seconds, 3),
        "flags_per_s": round(flags / seconds, 1) if seconds else 0.0,
        "per_batch": latency_summary(samples),
    }


def main() -> None:
    """Batch submission alone: rounds of HTTP batches and of the anchor, taking turns.

    .venv/bin/python -m benchmarks.workloads.batch --rounds 3 --batches 5 [--profile]

    The same batches as `make bench` measures, without the other paths, so that a change to
    the batch path can be compared in a few minutes; --profile records the server with
    py-spy during the HTTP rounds (benchmarks/harness/profile.py).
    """
    import argparse
    import asyncio
    import statistics

    from benchmarks.harness.database import checkpoint, open_database
    from benchmarks.harness.load import CpuMeter
    from benchmarks.harness.profile import recording, top_frames
    from benchmarks.harness.servers import fetch_token, flagbridge_env, start_ready, stop_server
    from benchmarks.workloads.submission import create_world

    parser = argparse.ArgumentParser(description="POST /v1/flags/batch against its anchor")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batches", type=int, default=5, help="batches per round")
    parser.add_argument("--size", type=int, default=1000, help="flags per batch")
    parser.add_argument("--profile", action="store_true", help="py-spy the server")
    args = parser.parse_args()
    db, _ = open_database("flagbridge_batchbench")
    run_id = uuid.uuid4().hex[:6]
    base = asyncio.run(create_world(db, run_id))
    world = asyncio.run(create_paths_world(db, run_id))
    server = start_ready(
        "flagbridge-batch",
        ["app.main:create_app", "--factory"],
        flagbridge_env(db),
        "/v1/flags/batch",
        "/readyz",
    )
    rates: dict[str, list[float]] = {"http": [], "anchor": [], "http_cpu": [], "anchor_cpu": []}
    flags = args.batches * args.size
    try:
        token = fetch_token(server, world["agency_client_id"], world["agency_secret"])
        for r in range(args.rounds):
            asyncio.run(checkpoint(db))
            meter = CpuMeter(server.proc.pid, db.postmaster_pid)
            meter.start()
            anchor = asyncio.run(
                anchor_batches(db, base, f"{run_id}a{r}_", batches=args.batches, size=args.size)
            )
            anchor_cpu = meter.stop()
            asyncio.run(checkpoint(db))
            meter.start()
            with recording(server.proc.pid if args.profile else None, f"batch{r}") as path:
                http = submit_batches(
                    server.base, token, world["platform"], f"{run_id}q{r}_",
                    batches=args.batches, size=args.size,
                )  # fmt: skip
            cpu = meter.stop()
            assert http["failed"] == 0, http["first_failure"]
            # CPU per flag: what a shared machine's other work does not change.
            http_us = ((cpu["server_cpu_s"] or 0) + (cpu["postgres_cpu_s"] or 0)) / flags * 1e6
            anchor_us = (anchor_cpu["postgres_cpu_s"] or 0) / flags * 1e6
            rates["http"].append(http["flags_per_s"])
            rates["anchor"].append(anchor["flags_per_s"])
            rates["http_cpu"].append(http_us)
            rates["anchor_cpu"].append(anchor_us)
            print(f"round {r}: http {http['flags_per_s']:.0f} flags/s, CPU {http_us:.0f} µs a "
                  f"flag (server {cpu['server_cpu_s']:.2f} s, PostgreSQL "
                  f"{cpu['postgres_cpu_s']:.2f} s); anchor {anchor['flags_per_s']:.0f} flags/s, "
                  f"CPU {anchor_us:.0f} µs a flag; other {cpu['other_cpu_s']:.1f} s")  # fmt: skip
            if path is not None and path.exists():
                print(top_frames(path))
    finally:
        stop_server(server)
    median = {k: statistics.median(v) for k, v in rates.items()}
    print(f"median: http {median['http']:.0f} flags/s, anchor {median['anchor']:.0f} flags/s "
          f"(ratio {median['http'] / median['anchor']:.3f}); CPU a flag: http "
          f"{median['http_cpu']:.0f} µs, anchor {median['anchor_cpu']:.0f} µs "
          f"(ratio {median['anchor_cpu'] / median['http_cpu']:.3f})")  # fmt: skip


if __name__ == "__main__":
    main()
