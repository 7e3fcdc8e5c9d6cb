"""What the harness prints and writes: the per-run table and the result JSON."""

from __future__ import annotations

import contextlib
import json
import shutil
from pathlib import Path
from typing import Any

from benchmarks.harness.database import ROOT


def choose_generator(requested: str) -> tuple[str, str | None]:
    """(generator, wrk path): wrk if installed for "auto"; SystemExit if wrk is missing."""
    wrk = shutil.which("wrk")
    generator = ("wrk" if wrk else "python") if requested == "auto" else requested
    if not wrk:
        print(
            "wrk is not installed: install it with `sudo apt-get install wrk` (Debian, Ubuntu) "
            "for measurements that trust the numbers; the Python generator competes with the "
            "servers for CPU",
            flush=True,
        )
    if generator == "wrk" and not wrk:
        print("wrk is not installed (apt-get install wrk); use --generator python", flush=True)
        raise SystemExit(1)
    return generator, wrk


ROW = "  {:<8} {:<11} {:>8} {:>7} {:>7} {:>7} {:>7} {:>7} {:>6} {:>7} {:>7}"
HEADER = ROW.format(
    "run",
    "side",
    "req/s",
    "p50 ms",
    "p99 ms",
    "max ms",
    "app ms",
    "pg ms",
    "other",
    "non-201",
    "sockerr",
)
LEGEND = (
    "  (app ms / pg ms: CPU per request of the server / of PostgreSQL; other: cores busy with "
    "anything else on the machine)"
)


def print_row(r: dict[str, Any]) -> None:
    """One line of the per-run table."""

    def num(value: float | None, fmt: str) -> str:
        return "-" if value is None else format(value, fmt)

    lat = r["latency_ms"]
    other = r.get("other_cpu_s")
    print(
        ROW.format(
            f"round {r['round']}" if r["round"] is not None else "warm-up",
            r["side"],
            num(r["rps"], ".1f"),
            num(lat["p50"], ".2f"),
            num(lat["p99"], ".2f"),
            num(lat["max"], ".2f"),
            num(r.get("server_cpu_ms_per_req"), ".3f"),
            num(r.get("postgres_cpu_ms_per_req"), ".3f"),
            num(other / r["seconds"] if other is not None and r["seconds"] else None, ".2f"),
            r["non_201"],
            r["socket_errors"],
        ),
        flush=True,
    )


def write_json(path: Path, report: dict[str, Any]) -> None:
    """Write the report as indented JSON (making the folder)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")


def display(path: Path) -> str:
    """path relative to the repository when it lies inside it."""
    with contextlib.suppress(ValueError):
        return str(path.resolve().relative_to(ROOT))
    return str(path)
