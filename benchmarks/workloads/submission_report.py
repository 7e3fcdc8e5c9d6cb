"""The submission workload's report: medians, ratios and correctness checks, as JSON and text."""

from __future__ import annotations

import argparse
import os
import platform as platform_mod
import statistics
import time
from typing import Any

from benchmarks.harness.load import LoadSpec
from benchmarks.harness.report import LEGEND
from benchmarks.workloads.submission import PER_FLAG, SIDES

RATIOS = (
    ("sealing_on_vs_baseline", "sealing-on", "baseline"),
    ("sealing_off_vs_baseline", "sealing-off", "baseline"),
    ("sealing_on_vs_off", "sealing-on", "sealing-off"),
)


def _side_total(spec: LoadSpec, sides: tuple[str, ...], key: str) -> int:
    return sum(int(r[key]) for r in spec.results if r["side"] in sides)


def checks(args: argparse.Namespace, spec: LoadSpec, counts: dict[str, int]) -> dict[str, Any]:
    """Every 201 is a stored row (a few more may land after the cut-off), no errors, and
    FlagBridge wrote every per-flag record once."""
    runs = {
        "baseline": args.rounds + (1 if args.warmup > 0 else 0),
        "flagbridge": 2 * args.rounds * (2 if args.warmup > 0 else 1),
    }
    out: dict[str, Any] = {}
    for name, sides, rows_key in (
        ("baseline", ("baseline",), "baseline_flags"),
        ("flagbridge", ("sealing-on", "sealing-off"), "flagbridge_flags"),
    ):
        created = _side_total(spec, sides, "created")
        rows = counts[rows_key]
        out[name] = {
            "responses_201": created,
            "rows": rows,
            # Requests sent just before the generator stopped are stored but not counted.
            "stored_after_cutoff": rows - created,
            "non_201": _side_total(spec, sides, "non_201"),
            "socket_errors": _side_total(spec, sides, "socket_errors"),
            "ok": 0 <= rows - created <= args.concurrency * runs[name]
            and _side_total(spec, sides, "non_201") == 0
            and _side_total(spec, sides, "socket_errors") == 0,
        }
    extras = {k: counts[k] for k in PER_FLAG}
    out["flagbridge"]["per_flag_records"] = extras
    out["flagbridge"]["ok"] = out["flagbridge"]["ok"] and all(
        v == counts["flagbridge_flags"] for v in extras.values()
    )
    out["ok"] = out["baseline"]["ok"] and out["flagbridge"]["ok"]
    return out


def medians(spec: LoadSpec) -> dict[str, Any]:
    """Median req/s, latency and CPU per request of each side's timed rounds, and ratios."""
    timed = [r for r in spec.results if r["round"] is not None]
    rps = {side: [r["rps"] for r in timed if r["side"] == side] for side in SIDES}
    median = {side: statistics.median(values) for side, values in rps.items()}

    def median_of(side: str, key: str, sub: str | None = None) -> float | None:
        vals = [r[key][sub] if sub else r[key] for r in timed if r["side"] == side]
        vals = [v for v in vals if v is not None]
        return round(statistics.median(vals), 3) if vals else None

    return {
        "median_rps": median,
        "median_latency_ms": {
            side: {p: median_of(side, "latency_ms", p) for p in ("p50", "p99")} for side in SIDES
        },
        "median_cpu_ms_per_request": {
            side: {
                "app": median_of(side, "server_cpu_ms_per_req"),
                "postgres": median_of(side, "postgres_cpu_ms_per_req"),
            }
            for side in SIDES
        },
        "ratios": {
            name: round(median[a] / median[b], 3) if median[b] else 0.0 for name, a, b in RATIOS
        },
        "per_round_ratios": {
            name: [round(x / y, 3) for x, y in zip(rps[a], rps[b], strict=True) if y]
            for name, a, b in RATIOS
        },
    }


def settings(args: argparse.Namespace, generator: str, world: dict[str, str]) -> dict[str, Any]:
    """The options the run used."""
    return {
        "generator": generator,
        "seconds": args.seconds,
        "rounds": args.rounds,
        "warmup_seconds": args.warmup,
        "concurrency": args.concurrency,
        "pool_size": args.pool_size,
        "workers": args.workers,
        "platform": world["platform"],
        "flagbridge_app": args.flagbridge_app,
        "seal_on_seconds": args.seal_on_seconds,
        "seal_off_seconds": args.seal_off_seconds,
        "seal_entries": args.seal_entries,
    }


def summarise(
    args: argparse.Namespace,
    spec: LoadSpec,
    counts: dict[str, int],
    facts: dict[str, str],
    generator: str,
    world: dict[str, str],
) -> dict[str, Any]:
    """The JSON report: runs, medians, ratios, correctness checks."""
    stats = medians(spec)
    on_ratio = stats["ratios"]["sealing_on_vs_baseline"]
    return {
        "run_id": spec.run_id,
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform_mod.python_version(),
            "platform": platform_mod.platform(),
            "postgres": facts,
        },
        "settings": settings(args, generator, world),
        "runs": spec.results,
        "median_rps": stats["median_rps"],
        "median_latency_ms": stats["median_latency_ms"],
        "median_cpu_ms_per_request": stats["median_cpu_ms_per_request"],
        # The brief's target applies to FlagBridge as it runs in production: sealing on.
        "ratio": on_ratio,
        "ratios": stats["ratios"],
        "per_round_ratios": stats["per_round_ratios"],
        "target": args.min_ratio,
        "meets_target": on_ratio >= args.min_ratio,
        "checks": checks(args, spec, counts),
    }


def print_throughput(report: dict[str, Any]) -> None:
    """Medians, ratios, latency and CPU per side."""
    med = report["median_rps"]
    lat = report["median_latency_ms"]
    cpu = report["median_cpu_ms_per_request"]
    ratios = report["ratios"]
    rounds = report["per_round_ratios"]
    verdict = "meets" if report["meets_target"] else "BELOW"
    print(LEGEND)
    print()
    print(
        f"median req/s: baseline {med['baseline']:.1f}, sealing on {med['sealing-on']:.1f}, "
        f"sealing off {med['sealing-off']:.1f}"
    )
    print(
        f"  sealing on  / baseline {ratios['sealing_on_vs_baseline']:.3f} ({verdict} target "
        f"{report['target']:.2f}); per round {rounds['sealing_on_vs_baseline']}"
    )
    print(
        f"  sealing off / baseline {ratios['sealing_off_vs_baseline']:.3f}; "
        f"per round {rounds['sealing_off_vs_baseline']}"
    )
    print(
        f"  sealing on  / off      {ratios['sealing_on_vs_off']:.3f}; "
        f"per round {rounds['sealing_on_vs_off']}"
    )
    for side in SIDES:
        print(
            f"  {side:<11} p50 {lat[side]['p50']} ms, p99 {lat[side]['p99']} ms; "
            f"CPU per request: app {cpu[side]['app']} ms, postgres {cpu[side]['postgres']} ms"
        )


def print_checks(report: dict[str, Any]) -> None:
    """One line per check, and the first error of any run."""
    checks = report["checks"]
    for side in ("baseline", "flagbridge"):
        c = checks[side]
        print(
            f"  check {side:<11} {'ok' if c['ok'] else 'FAILED'}: {c['responses_201']} x 201, "
            f"{c['rows']} rows ({c['stored_after_cutoff']} stored after the cut-off), "
            f"{c['non_201']} non-201, {c['socket_errors']} socket errors"
            + (f"; per flag {c['per_flag_records']}" if "per_flag_records" in c else "")
        )
    chain = checks.get("chain")
    if chain and not chain["ok"]:
        print(f"  check chain FAILED: {chain}")
    for r in report["runs"]:
        if r["first_error"]:
            print(f"  first error ({r['side']} {r['label']}): {r['first_error']}")
