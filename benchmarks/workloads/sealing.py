"""The audit-sealing workload: FlagBridge with its background sealer on vs off, and the
sealing rate on its own, then `flagbridge audit verify` over the whole chain."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from typing import Any

from benchmarks.harness.database import DATA_DIR, ROOT, Database, connect
from benchmarks.harness.load import LoadSpec


async def audit_progress(db: Database) -> dict[str, int]:
    """Audit entries written and sealed so far (positions are gapless: max = count)."""
    async with connect(db) as conn:
        row = await conn.fetchrow(
            "SELECT (SELECT count(*) FROM audit_entry) AS entries, "
            "(SELECT coalesce(max(position), 0) FROM audit_seal) AS sealed"
        )
        assert row is not None
        return {"entries": int(row["entries"]), "sealed": int(row["sealed"])}


def sealing_progress(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    """What the server's background sealer chained while the load ran, and how far it was
    behind when the load stopped (at most one sealing interval's worth)."""
    return {
        "written": after["entries"] - before["entries"],
        "sealed": after["sealed"] - before["sealed"],
        "unsealed_at_end": after["entries"] - after["sealed"],
    }


async def seal_now(db: Database) -> tuple[int, float]:
    """Seal every pending entry from this process; returns (entries, seconds)."""
    from app.audit.sealing import seal_pending
    from app.db import make_engine, make_sessionmaker

    engine = make_engine(db.url, pool_size=1, max_overflow=0)
    try:
        started = time.perf_counter()
        sealed = await seal_pending(make_sessionmaker(engine))
        return sealed, time.perf_counter() - started
    finally:
        await engine.dispose()


async def top_up_unsealed(db: Database, target: int) -> int:
    """Add copies of real submission entries until `target` entries await sealing.

    The copies have the same shape and size as what the service writes (the canonical
    encoding and hashing cost depends on it); their request_id marks them as copies.
    Returns how many were added.
    """
    async with connect(db) as conn:
        pending = int(
            await conn.fetchval(
                "SELECT count(*) FROM audit_entry e "
                "WHERE NOT EXISTS (SELECT 1 FROM audit_seal s WHERE s.entry_seq = e.seq)"
            )
        )
        missing = max(0, target - pending)
        if missing:
            await conn.execute(
                """
                WITH recent AS (
                    SELECT row_number() OVER (ORDER BY seq) - 1 AS i, *
                    FROM (SELECT * FROM audit_entry WHERE action = 'flag.submitted'
                          ORDER BY seq DESC LIMIT 10000) AS r
                ), size AS (SELECT count(*) AS n FROM recent)
                INSERT INTO audit_entry (actor_client_id, actor_org_id, actor_label, client_ip,
                    request_id, action, object_type, object_id, data)
                SELECT e.actor_client_id, e.actor_org_id, e.actor_label, e.client_ip,
                    'bench-seal-copy', e.action, e.object_type, e.object_id, e.data
                FROM generate_series(1, $1) AS g
                CROSS JOIN size
                JOIN recent AS e ON e.i = g % size.n
                """,
                missing,
            )
        return missing


def verify_chain_cli(db: Database) -> dict[str, Any]:
    """`flagbridge audit verify --json` over the whole chain and every stored checkpoint."""
    env = {
        **os.environ,
        "DATABASE_URL": db.url,
        "FLAGBRIDGE_DATA_DIR": str(DATA_DIR),  # the servers' key folder: checkpoints verify
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "app.cli.main", "audit", "verify", "--json"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=600,
        check=False,
    )
    seconds = time.perf_counter() - started
    try:
        result = dict(json.loads(proc.stdout.strip().splitlines()[-1]))
    except (ValueError, IndexError):
        result = {"status": "error", "problem": (proc.stdout + proc.stderr)[-2000:]}
    result["exit_code"] = proc.returncode
    result["seconds"] = round(seconds, 2)
    result["ok"] = proc.returncode == 0 and result.get("status") == "ok"
    return result


def sealing_report(
    args: argparse.Namespace,
    spec: LoadSpec,
    backlog: list[tuple[int, float]],
    copies: int,
    sealed: int,
    seconds: float,
    verification: dict[str, Any],
) -> dict[str, Any]:
    """What the background sealer did during the "on" rounds, and the sealing rate alone."""
    on = [r for r in spec.results if r["side"] == "sealing-on" and r["round"] is not None]
    return {
        "on_interval_seconds": args.seal_on_seconds,
        "off_interval_seconds": args.seal_off_seconds,
        "during_on_rounds": {
            "written": sum(r["audit"]["written"] for r in on),
            "sealed": sum(r["audit"]["sealed"] for r in on),
            "max_unsealed_at_round_end": max(r["audit"]["unsealed_at_end"] for r in on),
        },
        "backlog_sealed_before_on_rounds": {
            "entries": sum(n for n, _ in backlog),
            "seconds": round(sum(t for _, t in backlog), 2),
        },
        "rate": {
            "entries": sealed,
            "of_which_copies": copies,
            "seconds": round(seconds, 2),
            "entries_per_second": round(sealed / seconds, 1) if seconds else None,
        },
        "verify": {
            "entries": verification.get("entries"),
            "seconds": verification["seconds"],
            "ok": verification["ok"],
        },
    }


def print_sealing(sealing: dict[str, Any]) -> None:
    """The sealing lines of the human summary."""
    during = sealing["during_on_rounds"]
    rate = sealing["rate"]
    verify = sealing["verify"]
    print(
        f"  sealing on: {during['sealed']} entries sealed during the timed rounds "
        f"({during['written']} written; at most {during['max_unsealed_at_round_end']} "
        f"unsealed when a round ended), every {sealing['on_interval_seconds']:g} s"
    )
    print(
        f"  sealing rate alone: {rate['entries']} entries in {rate['seconds']:g} s = "
        f"{rate['entries_per_second']:.0f} entries/s ({rate['of_which_copies']} of them "
        "copies of real entries)"
    )
    print(
        f"  flagbridge audit verify: {'ok' if verify['ok'] else 'FAILED'}, "
        f"{verify['entries']} entries in {verify['seconds']:g} s"
    )


def measure_rate_and_verify(
    args: argparse.Namespace, spec: LoadSpec, db: Database, backlog: list[tuple[int, float]]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """After the rounds: the sealing rate alone over --seal-entries, then verify the chain.

    Returns (the report's "sealing" section, the verification result)."""
    print("measuring the sealing rate and verifying the chain...", flush=True)
    copies = asyncio.run(top_up_unsealed(db, args.seal_entries))
    sealed, seconds = asyncio.run(seal_now(db))
    verification = verify_chain_cli(db)
    report = sealing_report(args, spec, backlog, copies, sealed, seconds, verification)
    return report, verification
