"""The whole run's summary: one figure per path, its anchor and issue 14's target.

`build_summary` and `target_rows` take the finished report (a dict, as written to
results/latest.json) and nothing else, so they can be checked on a recorded result.
"""

from __future__ import annotations

import os
from typing import Any

# Issue 14's targets (2 cores; server, load generator and database on one machine).
SUBMIT_RATIO = 0.8
BATCH_FLAGS_PER_S = 20_000
BATCH_RATIO = 1 / 3
DELIVERY_ITEMS_PER_S = 10_000
FEED_PAGE_P99_MS = 20.0
OUTCOME_ITEMS_PER_S = 10_000
STATS_P99_MS = 20.0
STATS_P99_MS_10M = 1.5 * STATS_P99_MS
RSS_MB = 200.0
TEN_MILLION = 10_000_000


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a is not None and b else None


def build_summary(report: dict[str, Any]) -> dict[str, Any]:
    """The `summary` object of the JSON: the headline figure of every path."""
    paths, stats = report["paths"], report["statistics"]
    answers = paths["answers"]
    answered = sum(a["items"] for a in answers.values())
    answer_s = sum(a["seconds"] for a in answers.values())
    rss = [*paths["rss_mb_per_worker"], *stats["rss_mb_per_worker"]]
    return {
        "submit_rps": report["median_rps"]["sealing-on"],
        "baseline_rps": report["median_rps"]["baseline"],
        "submit_ratio": report["ratio"],
        "submit_p99_ms": report["median_latency_ms"]["sealing-on"]["p99"],
        "batch_flags_per_s": paths["batch"]["flags_per_s"],
        "batch_anchor_flags_per_s": paths["batch_anchor"]["flags_per_s"],
        "batch_ratio": _ratio(paths["batch"]["flags_per_s"], paths["batch_anchor"]["flags_per_s"]),
        "delivery_items_per_s": paths["feed"]["first"]["items_per_s"],
        "delivery_page_p99_ms": paths["feed"]["first"]["per_page"]["p99_ms"],
        "feed_page_p50_ms": paths["feed"]["reread"]["per_page"]["p50_ms"],
        "feed_page_p99_ms": paths["feed"]["reread"]["per_page"]["p99_ms"],
        "reread_items_per_s": paths["feed"]["reread"]["items_per_s"],
        "ack_batch_per_s": answers["ack"]["items_per_s"],
        "outcome_only_batch_per_s": answers["outcome"]["items_per_s"],
        "outcome_batch_per_s": round(answered / answer_s, 1) if answer_s else 0.0,
        "stats_p50_ms": stats["outcomes_by_country_platform_month"]["p50_ms"],
        "stats_p99_ms": stats["outcomes_by_country_platform_month"]["p99_ms"],
        "transparency_ms": stats["transparency"]["p50_ms"],
        "token_rps": paths["token"]["rps"],
        "rss_mb": max(rss) if rss else None,
        "rows_seeded": stats["rows"]["flag"],
        "workers": report["settings"]["workers"],
        "cpu_count": report["machine"]["cpus"] or os.cpu_count(),
    }


def target_rows(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """Per path: the figure, its anchor, the target and whether it is met (None: no target)."""
    s = summary
    stats_target = STATS_P99_MS_10M if s["rows_seeded"] >= TEN_MILLION else STATS_P99_MS
    batch_ok = (s["batch_ratio"] or 0) >= BATCH_RATIO
    return [
        {"path": "POST /v1/flags (sealing on)", "value": f"{s['submit_rps']:.0f} req/s",
         "anchor": f"bare insert {s['baseline_rps']:.0f} req/s (ratio {s['submit_ratio']:.2f})",
         "target": f">= {SUBMIT_RATIO} x anchor", "met": s["submit_ratio"] >= SUBMIT_RATIO},
        {"path": "POST /v1/flags/batch", "value": f"{s['batch_flags_per_s']:.0f} flags/s",
         "anchor": f"database alone {s['batch_anchor_flags_per_s']:.0f} flags/s "
                   f"(ratio {s['batch_ratio']})",
         "target": f">= {BATCH_FLAGS_PER_S:,}/s and >= 1/3 x anchor",
         "met": s["batch_flags_per_s"] >= BATCH_FLAGS_PER_S and batch_ok},
        {"path": "first delivery, pages of 500",
         "value": f"{s['delivery_items_per_s']:.0f} items/s",
         "anchor": f"re-read {s['reread_items_per_s']:.0f} items/s",
         "target": f">= {DELIVERY_ITEMS_PER_S:,}/s",
         "met": s["delivery_items_per_s"] >= DELIVERY_ITEMS_PER_S},
        {"path": "re-read a feed page of 500", "value": f"p99 {s['feed_page_p99_ms']:.1f} ms",
         "anchor": f"first delivery p99 {s['delivery_page_p99_ms']:.1f} ms",
         "target": f"p99 < {FEED_PAGE_P99_MS:g} ms",
         "met": s["feed_page_p99_ms"] < FEED_PAGE_P99_MS},
        {"path": "POST /v1/outcomes/batch", "value": f"{s['outcome_batch_per_s']:.0f} items/s",
         "anchor": f"acks {s['ack_batch_per_s']:.0f}/s, outcomes "
                   f"{s['outcome_only_batch_per_s']:.0f}/s",
         "target": f">= {OUTCOME_ITEMS_PER_S:,}/s",
         "met": s["outcome_batch_per_s"] >= OUTCOME_ITEMS_PER_S},
        {"path": "GET /v1/stats/outcomes (country, platform, month)",
         "value": f"p99 {s['stats_p99_ms']:.1f} ms",
         "anchor": f"p50 {s['stats_p50_ms']:.1f} ms at {s['rows_seeded']:,} flags",
         "target": f"p99 < {stats_target:g} ms", "met": s["stats_p99_ms"] < stats_target},
        {"path": "GET /transparency", "value": f"{s['transparency_ms']:.1f} ms (median)",
         "anchor": f"at {s['rows_seeded']:,} flags", "target": "-", "met": None},
        {"path": "POST /oauth/token", "value": f"{s['token_rps']:.1f} req/s",
         "anchor": "argon2id by design", "target": "-", "met": None},
        {"path": "RSS per worker after the run", "value": f"{s['rss_mb']:.0f} MB",
         "anchor": f"{s['workers']} worker(s), {s['cpu_count']} CPUs",
         "target": f"< {RSS_MB:g} MB", "met": s["rss_mb"] < RSS_MB},
    ]  # fmt: skip


def paths_checks(report: dict[str, Any]) -> dict[str, Any]:
    """Every batch flag created, handed over once and answered; every token request a 200."""
    paths = report["paths"]
    flags = paths["batch"]["batches"] * paths["batch"]["size"]
    out = {
        "batch": paths["batch"]["flags"] == flags and paths["batch"]["failed"] == 0,
        "delivery": paths["feed"]["flags_handed_over"] == flags
        and paths["feed"]["delivered_at_set"] == flags,
        "answers": all(a["items"] == flags and a["failed"] == 0 for a in paths["answers"].values()),
        "token": not paths["token"].get("non_200"),
    }
    return {**out, "ok": all(out.values())}


def print_targets(summary: dict[str, Any]) -> None:
    """The table of every path beside its anchor and target, marking met or missed."""
    rows = target_rows(summary)
    widths = [max(len(str(r[k])) for r in rows) for k in ("path", "value", "anchor", "target")]
    line = "  {:<%d}  {:>%d}  {:<%d}  {:<%d}  {}" % tuple(widths)  # noqa: UP031
    print()
    print(line.format("path", "measured", "anchor (same run)", "target", ""))
    for r in rows:
        mark = "-" if r["met"] is None else ("met" if r["met"] else "MISSED")
        print(line.format(r["path"], r["value"], r["anchor"], r["target"], mark))
