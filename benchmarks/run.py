"""Every path of FlagBridge beside an anchor measured in the same run (`make bench`).

One command (`make bench`):

1. starts (or attaches to) an embedded PostgreSQL in var/bench, or uses DATABASE_URL,
   migrates it and creates a platform, two agencies and their API clients;
2. starts the baseline (benchmarks/baseline_app.py), one uvicorn worker on 127.0.0.1, for
   the whole run;
3. loads three sides in alternating rounds at a fixed concurrency: the baseline, FlagBridge
   with audit sealing ON (its background sealer every --seal-on-seconds, 0.5 s, so it
   overlaps the load) and FlagBridge with sealing OFF (every --seal-off-seconds, 3600 s:
   never during a round). Each FlagBridge round gets a freshly started server (one worker)
   and an untimed warm-up, so one side's sealer never runs during another side's round;
   entries the "off" round left unsealed are sealed (untimed) before the next "on" round;
4. measures the sealing rate on its own: tops the unsealed entries up to --seal-entries
   with copies of real ones and times app.audit.sealing.seal_pending over them;
5. prints requests/s per round, the medians and the ratios (on / baseline, off / baseline,
   on / off), checks that every 201 is a stored row (and, for FlagBridge, its history, feed
   event, audit entry and idempotency key), runs `flagbridge audit verify` over the whole
   chain, and writes benchmarks/results/latest.json;
6. measures every other path, each beside its anchor (workloads/paths.py: batch vs the
   database alone, first delivery and re-read of feed pages, ack and outcome batches,
   token issue, RSS; workloads/statistics.py: statistics and /transparency at --scale),
   prints the table of every path against issue 14's targets and puts the `summary`
   object in the JSON;
7. stops the servers it started (and the embedded PostgreSQL, if it started it).

Exit status: 0 if the sealing-on ratio reaches --min-ratio and every check passed, 2 if
only the ratio is short, 1 if a check failed. Traffic goes to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # `python benchmarks/run.py`: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.harness.database import DATA_DIR, RESULTS, Database, open_database, pg_facts
from benchmarks.harness.load import LoadSpec
from benchmarks.harness.report import HEADER, choose_generator, display, write_json
from benchmarks.harness.servers import fetch_token, stop_server, wait_ready
from benchmarks.workloads import paths, sealing, statistics, submission
from benchmarks.workloads import paths_report as overview
from benchmarks.workloads import submission_report as summary

DATABASE = "flagbridge_bench"


def _add_sealing_args(parser: argparse.ArgumentParser) -> None:
    """The sealing workload's options."""
    parser.add_argument(
        "--seal-on-seconds",
        type=float,
        default=0.5,
        help="FLAGBRIDGE_AUDIT_SEAL_SECONDS of the sealing-on server (0.5)",
    )
    parser.add_argument(
        "--seal-off-seconds",
        type=float,
        default=3600.0,
        help="FLAGBRIDGE_AUDIT_SEAL_SECONDS of the sealing-off server (3600: never in a round)",
    )
    parser.add_argument(
        "--seal-entries",
        type=int,
        default=60_000,
        help="entries sealed in the separate sealing-rate measurement (60000)",
    )


def _add_paths_args(parser: argparse.ArgumentParser) -> None:
    """The other paths' options: workers, batch sizes, statistics scale, profiling."""
    parser.add_argument(
        "--workers", type=int, default=1, help="uvicorn workers of every server (1)"
    )
    parser.add_argument("--batches", type=int, default=10, help="batches of flags (10)")
    parser.add_argument(
        "--batch-size", type=int, default=1000, help="flags per batch and answers per batch (1000)"
    )
    parser.add_argument(
        "--scale",
        type=statistics.parse_scale,
        default="1m",
        help="closed flags seeded for the statistics (1m; e.g. 200k, 10m)",
    )
    parser.add_argument(
        "--stats-repeat", type=int, default=50, help="timed statistics requests (50)"
    )
    parser.add_argument(
        "--reuse-stats",
        action="store_true",
        help="keep the statistics database if it is already seeded at this scale",
    )
    parser.add_argument(
        "--token-seconds", type=float, default=5.0, help="length of the token run (5)"
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="sample the servers with py-spy (.venv/bin/pip install py-spy) into "
        "var/bench/profiles/ and put the top functions in the JSON",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="every workload, briefly: a smoke test of the benchmark, not a measurement",
    )


def _quick(args: argparse.Namespace) -> None:
    """Shrink every workload to seconds (the scale too, unless --scale was given)."""
    args.seconds, args.rounds, args.warmup = 2.0, 1, 0.5
    args.seal_entries = 2000
    args.batches, args.batch_size = 2, 500
    args.stats_repeat, args.token_seconds = 10, 1.0
    if args.scale == statistics.parse_scale("1m"):
        args.scale = 20_000


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(
        prog="benchmarks/run.py",
        description="Measure POST /v1/flags against a bare FastAPI + asyncpg insert of the "
        "same row, in alternating rounds of the same run, and print the ratio.",
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="length of a round (10)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per side (3)")
    parser.add_argument(
        "--concurrency", type=int, default=32, help="open keep-alive connections (32)"
    )
    parser.add_argument(
        "--warmup",
        type=float,
        default=2.0,
        help="untimed warm-up of every server start (FlagBridge starts each round), seconds (2)",
    )
    _add_sealing_args(parser)
    parser.add_argument(
        "--pool-size", type=int, default=10, help="database pool size of both servers (10)"
    )
    parser.add_argument(
        "--generator",
        choices=("auto", "wrk", "python"),
        default="auto",
        help="load generator: wrk if installed (auto), or the Python one",
    )
    parser.add_argument(
        "--synchronous-commit",
        choices=("on", "off"),
        default="on",
        help="synchronous_commit of the embedded benchmark database (on, as in production)",
    )
    parser.add_argument(
        "--flagbridge-app",
        default="app.main:create_app",
        metavar="MODULE:FACTORY",
        help="the FlagBridge app factory to measure (default app.main:create_app), "
        "e.g. a candidate change importable from PYTHONPATH",
    )
    parser.add_argument(
        "--min-ratio",
        type=float,
        default=0.60,
        help="target FlagBridge (sealing on) / baseline ratio (0.60)",
    )
    parser.add_argument(
        "--output", type=Path, default=RESULTS / "latest.json", help="where to write JSON"
    )
    parser.add_argument(
        "--only",
        choices=("submission",),
        help="measure one workload: `submission` runs the single-submission rounds and their "
        "checks only (no sealing rate, chain verification, other paths or statistics)",
    )
    _add_paths_args(parser)
    args = parser.parse_args(argv)
    if args.quick:
        _quick(args)
    if args.seconds <= 0 or args.rounds < 1 or args.concurrency < 1 or args.warmup < 0:
        parser.error("--seconds, --rounds and --concurrency must be positive")
    if args.seal_on_seconds <= 0 or args.seal_off_seconds <= 0 or args.seal_entries < 0:
        parser.error("--seal-on-seconds and --seal-off-seconds must be positive")
    return args


# ---------------------------------------------------------------------------- database


def _prepare(
    args: argparse.Namespace, run_id: str
) -> tuple[Database, dict[str, str], dict[str, str]]:
    """The fresh benchmark database, its world and its PostgreSQL facts."""
    print(f"FlagBridge submission benchmark {run_id}: setting up the database...", flush=True)
    db, _ = open_database(DATABASE, settings={"synchronous_commit": args.synchronous_commit})
    world = asyncio.run(submission.create_world(db, run_id))
    return db, world, asyncio.run(pg_facts(db))


def _announce(args: argparse.Namespace, generator: str, facts: dict[str, str]) -> None:
    print(
        f"generator {generator}, {args.concurrency} connections, {args.rounds} rounds x "
        f"{args.seconds:g} s per side (+{args.warmup:g} s warm-up per server start), "
        f"{args.workers} uvicorn worker(s) each, pool {args.pool_size}; audit sealing every "
        f"{args.seal_on_seconds:g} s (on) / {args.seal_off_seconds:g} s (off); "
        f"PostgreSQL {facts['server_version']}, "
        f"synchronous_commit={facts['synchronous_commit']}, fsync={facts['fsync']}",
        flush=True,
    )
    print(HEADER, flush=True)


def main(argv: list[str] | None = None) -> int:
    """Set up, measure, check, report, tear down."""
    args = parse_args(argv)
    generator, wrk = choose_generator(args.generator)
    run_id = uuid.uuid4().hex[:8]
    started = time.monotonic()
    db, world, facts = _prepare(args, run_id)
    servers = submission.Servers(args, db, world)
    for old in (DATA_DIR / "logs").glob("*.log"):
        old.unlink()
    baseline = None
    try:
        baseline = servers.baseline()
        # A first FlagBridge start makes the signing key and an agency token for all rounds.
        first = servers.flagbridge("sealing-off")
        try:
            token = fetch_token(first, world["fb_client_id"], world["fb_client_secret"])
        finally:
            stop_server(first)
        wait_ready(baseline)
        spec = LoadSpec(generator, wrk, args.concurrency, world["platform"], token, run_id)
        _announce(args, generator, facts)
        backlog = submission.run_rounds(args, spec, db, baseline, servers.flagbridge)
        counts = asyncio.run(submission.count_rows(db, world))
    finally:
        if baseline is not None:
            stop_server(baseline)
    report = summary.summarise(args, spec, counts, facts, generator, world)
    if args.only == "submission":
        return _report_submission_only(args, report, started)
    report["sealing"], verification = sealing.measure_rate_and_verify(args, spec, db, backlog)
    report["checks"]["chain"] = verification
    report["checks"]["ok"] = report["checks"]["ok"] and verification["ok"]
    print("batch, delivery, answers and tokens ...", flush=True)
    report["paths"] = paths.run(args, db, world, run_id, wrk if generator == "wrk" else None)
    print(f"statistics at {args.scale:,} flags ...", flush=True)
    report["statistics"], stats_rss = statistics.measure(args, args.scale, args.stats_repeat)
    report["statistics"]["rss_mb_per_worker"] = stats_rss
    report["checks"]["paths"] = overview.paths_checks(report)
    report["checks"]["ok"] = report["checks"]["ok"] and report["checks"]["paths"]["ok"]
    report["summary"] = overview.build_summary(report)
    report["wall_seconds"] = round(time.monotonic() - started, 1)
    write_json(args.output, report)
    summary.print_throughput(report)
    sealing.print_sealing(report["sealing"])
    summary.print_checks(report)
    print(f"  check paths {report['checks']['paths']}")
    overview.print_targets(report["summary"])
    print(f"wrote {display(args.output)} ({report['wall_seconds']:g} s in all)", flush=True)
    if not report["checks"]["ok"]:
        return 1
    return 0 if report["meets_target"] else 2


def _report_submission_only(
    args: argparse.Namespace, report: dict[str, Any], started: float
) -> int:
    """Write and print what `--only submission` measured; the exit status as main's."""
    report["wall_seconds"] = round(time.monotonic() - started, 1)
    write_json(args.output, report)
    summary.print_throughput(report)
    summary.print_checks(report)
    print(f"wrote {display(args.output)} ({report['wall_seconds']:g} s in all)", flush=True)
    if not report["checks"]["ok"]:
        return 1
    return 0 if report["meets_target"] else 2


if __name__ == "__main__":
    raise SystemExit(main())
