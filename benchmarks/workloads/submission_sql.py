"""The submission SQL alone, this tree's against another revision's, in alternating rounds.

    .venv/bin/python -m benchmarks.workloads.submission_sql --against 34e5825 --rounds 5

No HTTP and no Python rules in the timings: one asyncpg connection calls the statements the
servers send, with flags built as the service builds them (validated body, canonical keys),
and reports the CPU time of the PostgreSQL backend per flag (from /proc/<pid>/schedstat, so
a machine shared with other work slows the wall clock, not this figure), inside one
transaction that is then rolled back: the cost of the SQL alone, without the commit's WAL
flush (the same for both sides, and the noisiest part):

- `group of N`: `fb_submit_flag_requests` with N new flags, each with an Idempotency-Key
  (what group commit sends for N concurrent POST /v1/flags);
- `batch of M`: `fb_submit_flag_batch` with M new flags (POST /v1/flags/batch).

Each round applies one side's SQL definitions (app/sql_definitions.py FILES, the other
side's read with `git show REV:app/<file>`) to the same database and measures it, sides
taking turns, so a busy machine slows both alike. Medians of the rounds are printed. The
database is `flagbridge_sqlbench` on the embedded server of var/bench (or DATABASE_URL).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import uuid
from typing import Any

from app import sql_definitions
from app.flags.schemas import FlagCreate
from app.identity.service import identity_of
from benchmarks.harness.database import ROOT, Database, connect, create_clients, open_database
from benchmarks.workloads.batch import flag_body

DATABASE = "flagbridge_sqlbench"
GROUP_SQL = (
    "SELECT count(*) FROM fb_submit_flag_requests($1::uuid[], $2::uuid[], $3::text[],"
    " $4::text[], $5::text[], 'POST /v1/flags', $6::text[], $7::text[], $8::text[])"
)
BATCH_SQL = "SELECT fb_submit_flag_batch($1, $2, 'ID', $3::jsonb, 'sqlbench', '127.0.0.1')"


def definitions(revision: str | None) -> str:
    """The SQL definitions script of the working tree (None) or of a git revision."""
    if revision is None:
        return sql_definitions.script()
    texts = []
    for name in sql_definitions.FILES:
        shown = subprocess.run(  # noqa: S603
            ["git", "show", f"{revision}:app/{name}"],  # noqa: S607
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        if shown.returncode == 0:
            texts.append(shown.stdout)
    return "SET check_function_bodies = off;\n" + "\n".join(texts)


def flag(platform: str, handle: str) -> str:
    """A new flag as the service hands it to SQL: validated, with its canonical keys."""
    body = FlagCreate.model_validate(flag_body(platform, handle)).model_dump(mode="json")
    body["identity"] = identity_of("twitter", body["account"])
    return json.dumps(body)


def backend_cpu_s(pid: int) -> float:
    """CPU seconds the backend process has run so far (the database must be local)."""
    with open(f"/proc/{pid}/schedstat") as stat:
        return int(stat.read().split()[0]) / 1e9


def handles(count: int) -> list[str]:
    """New handles, valid on Twitter's profile (15 characters at most)."""
    return [f"h{uuid.uuid4().hex[:14]}" for _ in range(count)]


async def time_group(conn: Any, world: dict[str, str], size: int, reps: int) -> float:
    """Backend CPU microseconds per flag of `reps` group statements of `size` new flags each."""
    org, client = uuid.UUID(world["org"]), uuid.UUID(world["client"])
    groups = []
    for _ in range(reps):
        names = handles(size)
        flags = [flag(world["platform"], n) for n in names]
        groups.append((names, flags))
    pid = await conn.fetchval("SELECT pg_backend_pid()")
    tx = conn.transaction()
    await tx.start()
    started = backend_cpu_s(pid)
    for names, flags in groups:
        await conn.fetchval(
            GROUP_SQL,
            [org] * size,
            [client] * size,
            ["ID"] * size,
            flags,
            names,
            ["h"] * size,
            ["sqlbench"] * size,
            ["127.0.0.1"] * size,
        )
    elapsed = backend_cpu_s(pid) - started
    await tx.rollback()
    return elapsed / (size * reps) * 1e6


async def time_batch(conn: Any, world: dict[str, str], size: int) -> float:
    """Flags per backend CPU second of one batch statement of `size` new flags."""
    items = [
        {"index": i, "flag": json.loads(flag(world["platform"], name))}
        for i, name in enumerate(handles(size))
    ]
    payload = json.dumps(items)
    pid = await conn.fetchval("SELECT pg_backend_pid()")
    tx = conn.transaction()
    await tx.start()
    started = backend_cpu_s(pid)
    await conn.fetchval(BATCH_SQL, uuid.UUID(world["org"]), uuid.UUID(world["client"]), payload)
    elapsed = backend_cpu_s(pid) - started
    await tx.rollback()
    return size / elapsed


async def measure(db: Database, args: argparse.Namespace) -> dict[str, dict[str, list[float]]]:
    """Alternating rounds of both sides; every measurement of every round."""
    run = uuid.uuid4().hex[:6]
    platform = f"sqlb{run}"
    orgs = await create_clients(
        db,
        {
            "platform": {"kind": "platform", "name": f"sqlbench platform {run}",
                         "platform": platform, "identity_profile": "twitter"},
            "agency": {"kind": "agency", "name": f"sqlbench agency {run}", "country": "ID"},
        },
    )  # fmt: skip
    world = {
        "platform": platform,
        "org": orgs["agency"]["id"],
        "client": orgs["agency"]["client_id"],
    }
    sides = {"this tree": None, args.against: args.against}
    scripts = {name: definitions(rev) for name, rev in sides.items()}
    results: dict[str, dict[str, list[float]]] = {name: {} for name in sides}
    async with connect(db) as conn:
        for _ in range(args.rounds):
            for name in sides:
                await conn.execute(scripts[name])
                await time_group(conn, world, 4, 5)  # warm the plans
                out = results[name]
                for size in (int(n) for n in args.sizes.split(",")):
                    us = await time_group(conn, world, size, args.reps)
                    out.setdefault(f"group of {size}: CPU µs per flag", []).append(us)
                rate = await time_batch(conn, world, args.batch)
                out.setdefault(f"batch of {args.batch}: flags per CPU s", []).append(rate)
        await conn.execute(scripts["this tree"])
    return results


def main() -> None:
    """Run the rounds and print medians per side."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--against", default="34e5825", help="git revision to compare with")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--reps", type=int, default=40, help="group statements per round")
    parser.add_argument("--sizes", default="1,4,16", help="group sizes to measure")
    parser.add_argument("--batch", type=int, default=1000, help="flags per batch")
    args = parser.parse_args()
    db, _ = open_database(DATABASE)
    results = asyncio.run(measure(db, args))
    for name, measured in results.items():
        print(name)
        for what, values in measured.items():
            rounds = ", ".join(f"{v:.0f}" for v in values)
            print(f"  {what:<32} median {statistics.median(values):>9.1f}  ({rounds})")


if __name__ == "__main__":
    main()
