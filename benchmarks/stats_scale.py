"""Statistics at scale: every stats endpoint's latency over about a million closed flags.

One command (`.venv/bin/python benchmarks/stats_scale.py`):

1. starts (or attaches to) the embedded PostgreSQL in var/bench, as benchmarks/run.py does,
   or uses DATABASE_URL, and recreates the `flagbridge_stats_bench` database (unless
   --reuse finds it loaded already);
2. creates the demo's organisations (nine agencies, three platforms, an observer) and loads
   --flags closed flags over --months months set-based (generate_series), with skewed,
   realistic shares of countries, platforms, categories, outcomes and response times, plus
   a few thousand live flags (some overdue) and monthly platform reports. The rollup
   trigger is switched off for the bulk load and the rollups are then rebuilt from the flag
   table by fb_stats_rebuild() in the same transaction (a million trigger calls would take
   minutes; the result is the same, exact rollup);
3. starts FlagBridge (one uvicorn worker) and times each stats endpoint over HTTP with an
   observer token: --repeat sequential requests after a warm-up, median and 90th percentile;
4. checks one grouping against a direct COUNT(*) over the flag table (and times that
   query, for contrast), prints a table and writes benchmarks/results/stats-latest.json.

Target: every endpoint under 20 ms (median). Traffic goes to 127.0.0.1 only; the script
stops the server it started, and the embedded PostgreSQL if it started it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # `python benchmarks/stats_scale.py`: repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.harness.database import (
    DATA_DIR,
    RESULTS,
    Database,
    connect,
    create_clients,
    open_database,
)
from benchmarks.harness.report import display, write_json
from benchmarks.harness.servers import (
    Server,
    fetch_token,
    flagbridge_env,
    start_ready,
    stop_server,
)

DATABASE = "flagbridge_stats_bench"
RESULT = RESULTS / "stats-latest.json"
TARGET_MS = 20.0
AGENCIES = ["ID", "PH", "MY", "AU", "TH", "MM", "SG", "NZ", "BN"]
PLATFORMS = ["twitter", "facebook", "youtube"]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(
        prog="benchmarks/stats_scale.py",
        description="Load about a million closed flags and time every stats endpoint.",
    )
    p.add_argument("--flags", type=int, default=1_000_000, help="closed flags (1000000)")
    p.add_argument("--months", type=int, default=24, help="months of history (24)")
    p.add_argument("--repeat", type=int, default=30, help="timed requests per endpoint (30)")
    p.add_argument(
        "--reuse", action="store_true", help="keep an already loaded database (skip the load)"
    )
    p.add_argument("--output", type=Path, default=RESULT, help="where to write JSON")
    args = p.parse_args(argv)
    if args.flags < 1000 or args.months < 2 or args.repeat < 3:
        p.error("--flags >= 1000, --months >= 2, --repeat >= 3")
    return args


# ------------------------------------------------------------------------------ database


async def _loaded(db: Database) -> bool:
    async with connect(db) as conn:
        return bool(await conn.fetchval("SELECT count(*) > 1000 FROM flag"))


def open_stats_database(args: argparse.Namespace) -> tuple[Database, bool]:
    """The stats database (kept with --reuse if loaded); True if it needs loading."""
    db, fresh = open_database(DATABASE, reuse=args.reuse)
    return db, fresh or not asyncio.run(_loaded(db))


async def create_world(db: Database) -> dict[str, Any]:
    """The organisations, and an observer client (its secret is kept in the JSON output)."""
    specs: dict[str, dict[str, Any]] = {
        f"agency {cc}": {"kind": "agency", "name": f"Stats bench agency {cc}", "country": cc}
        for cc in AGENCIES
    }
    specs |= {
        f"platform {slug}": {"kind": "platform", "name": f"Stats bench {slug}", "platform": slug}
        for slug in PLATFORMS
    }
    specs["observer"] = {"kind": "observer", "name": "Stats bench observer"}
    orgs = await create_clients(db, specs, client_name="stats benchmark")

    def ids(key: str) -> dict[str, str]:
        return {"id": orgs[key]["id"], "client_id": orgs[key]["client_id"]}

    return {
        "agencies": {cc: ids(f"agency {cc}") for cc in AGENCIES},
        "platforms": {slug: ids(f"platform {slug}") for slug in PLATFORMS},
        "observer_client_id": orgs["observer"]["client_id"],
        "observer_secret": orgs["observer"]["secret"],
    }


LOAD_SQL = """
WITH a AS (
    SELECT array_agg(id ORDER BY country) AS ids, array_agg(country ORDER BY country) AS cc
    FROM organization WHERE kind = 'agency'
), c AS (
    SELECT array_agg(c.id ORDER BY o.country) AS ids
    FROM api_client c JOIN organization o ON o.id = c.organization_id WHERE o.kind = 'agency'
), p AS (
    SELECT array_agg(id ORDER BY platform) AS ids, array_agg(platform ORDER BY platform) AS slug
    FROM organization WHERE kind = 'platform'
), r AS (
    SELECT g,
           -- Skewed shares: a few countries flag most; Twitter gets most flags.
           width_bucket(random(), 0, 1, 20) AS country_roll,
           random() AS platform_roll, random() AS category_roll, random() AS action_roll,
           random() AS kind_roll, random() AS prio_roll,
           -- closed_at: later months busier (sqrt skews toward the end of the range).
           $2::timestamptz + sqrt(random()) * ($3::timestamptz - $2::timestamptz) AS closed_at,
           exp(random() * 6.5) * 60 AS ack_seconds,
           exp(random() * 7.5) * 60 AS outcome_seconds
    FROM generate_series($4::bigint + 1, $4::bigint + $1) AS g
), rows AS (
    SELECT r.*,
           -- Agencies in country order: AU BN ID MM MY NZ PH SG TH. Shares: ID 25%,
           -- PH 15%, MY, AU, TH, NZ 10% each, SG 5%, MM 5%, BN 10%.
           (SELECT ids FROM a)[CASE WHEN country_roll <= 5 THEN 3 WHEN country_roll <= 8 THEN 7
                WHEN country_roll <= 10 THEN 5 WHEN country_roll <= 12 THEN 1
                WHEN country_roll <= 14 THEN 9 WHEN country_roll <= 16 THEN 6
                WHEN country_roll <= 17 THEN 8 WHEN country_roll <= 18 THEN 4 ELSE 2 END]
               AS agency_id,
           -- Platforms in slug order: facebook, twitter, youtube (55% twitter).
           CASE WHEN platform_roll < 0.55 THEN 2 WHEN platform_roll < 0.85 THEN 1 ELSE 3 END
               AS platform_no,
           CASE WHEN category_roll < 0.30 THEN 'propaganda' WHEN category_roll < 0.52
                THEN 'recruitment' WHEN category_roll < 0.66 THEN 'glorification'
                WHEN category_roll < 0.78 THEN 'incitement' WHEN category_roll < 0.86
                THEN 'instruction' WHEN category_roll < 0.92 THEN 'financing'
                WHEN category_roll < 0.95 THEN 'threat' ELSE 'other' END AS category,
           CASE WHEN action_roll < 0.55 THEN 'account_suspended' WHEN action_roll < 0.75
                THEN 'content_removed' WHEN action_roll < 0.83 THEN 'account_restricted'
                WHEN action_roll < 0.93 THEN 'no_violation' WHEN action_roll < 0.97
                THEN 'account_not_found' ELSE 'insufficient_information' END AS action,
           CASE WHEN kind_roll < 0.1 THEN 'removal_order' ELSE 'referral' END AS kind,
           CASE WHEN prio_roll < 0.15 THEN 'urgent' ELSE 'standard' END AS priority
    FROM r
), acc AS (
    INSERT INTO account (platform, handle)
    SELECT (SELECT slug FROM p)[platform_no], 'bench_' || g FROM rows
    RETURNING id, platform, handle
)
INSERT INTO flag (agency_org_id, submitted_by_client_id, country, platform, platform_org_id,
                  account_id, account_ref, kind, category, priority, legal_basis, summary,
                  evidence, status, submitted_at, opened_at, due_at, delivered_at,
                  acknowledged_at, closed_at, outcome_action, actioned_at, updated_at)
SELECT x.agency_id,
       (SELECT ids FROM c)[array_position((SELECT ids FROM a), x.agency_id)],
       (SELECT cc FROM a)[array_position((SELECT ids FROM a), x.agency_id)],
       (SELECT slug FROM p)[x.platform_no], (SELECT ids FROM p)[x.platform_no], acc.id,
       jsonb_build_object('id', NULL, 'handle', acc.handle, 'url', NULL),
       x.kind, x.category, x.priority, 'benchmark', 'benchmark', '[]'::jsonb, 'closed',
       x.closed_at - make_interval(secs => x.ack_seconds + x.outcome_seconds),
       x.closed_at - make_interval(secs => x.ack_seconds + x.outcome_seconds),
       x.closed_at - make_interval(secs => x.ack_seconds + x.outcome_seconds) + interval '1 day',
       x.closed_at - make_interval(secs => x.outcome_seconds + 30),
       x.closed_at - make_interval(secs => x.outcome_seconds),
       x.closed_at, x.action, x.closed_at, x.closed_at
FROM rows x JOIN acc ON acc.handle = 'bench_' || x.g
"""

LIVE_SQL = """
INSERT INTO account (platform, handle)
SELECT o.platform, 'bench_live_' || g
FROM generate_series(1, $1) g
JOIN organization o
  ON o.kind = 'platform' AND o.platform = (ARRAY['twitter', 'facebook', 'youtube'])[1 + g % 3];
INSERT INTO flag (agency_org_id, submitted_by_client_id, country, platform, platform_org_id,
                  account_id, account_ref, kind, category, priority, legal_basis, summary,
                  evidence, status, submitted_at, opened_at, due_at, delivered_at,
                  acknowledged_at)
SELECT ag.id, cl.id, ag.country, acc.platform, po.id, acc.id,
       jsonb_build_object('id', NULL, 'handle', acc.handle, 'url', NULL), 'referral', 'propaganda',
       CASE WHEN g % 5 = 0 THEN 'urgent' ELSE 'standard' END, 'benchmark', 'benchmark',
       '[]'::jsonb, CASE WHEN g % 3 = 0 THEN 'acknowledged' ELSE 'open' END,
       now() - make_interval(hours => g % 48), now() - make_interval(hours => g % 48),
       now() - make_interval(hours => g % 48) + interval '24 hours',
       CASE WHEN g % 4 = 0 THEN NULL ELSE now() - make_interval(hours => g % 48) END,
       CASE WHEN g % 3 = 0 THEN now() - make_interval(mins => g % 60) END
FROM generate_series(1, $1) g
JOIN account acc ON acc.handle = 'bench_live_' || g
JOIN organization po ON po.kind = 'platform' AND po.platform = acc.platform
JOIN LATERAL (SELECT id, country FROM organization WHERE kind = 'agency'
              ORDER BY country OFFSET g % 9 LIMIT 1) ag ON TRUE
JOIN LATERAL (SELECT id FROM api_client WHERE organization_id = ag.id LIMIT 1) cl ON TRUE;
"""

REPORTS_SQL = """
WITH rep AS (
    INSERT INTO platform_report (platform_org_id, platform, period_start, period_end,
                                 submitted_by_client_id)
    SELECT o.id, o.platform, m::date, (m + interval '1 month')::date,
           (SELECT id FROM api_client WHERE organization_id = o.id LIMIT 1)
    FROM organization o,
         generate_series($1::date::timestamp, $2::date::timestamp - interval '1 month',
                         interval '1 month') m
    WHERE o.kind = 'platform'
    RETURNING id, platform
)
INSERT INTO platform_report_row (report_id, row_no, country, category, action, source, count)
SELECT rep.id, row_number() OVER (PARTITION BY rep.id), NULL, cat, act, src,
       (CASE rep.platform WHEN 'twitter' THEN 40000 WHEN 'facebook' THEN 17000 ELSE 10000 END
        * CASE src WHEN 'own_detection' THEN 0.93 ELSE 0.07 END
        * CASE act WHEN 'account_suspended' THEN 0.7 ELSE 0.3 END / 8)::bigint
FROM rep,
     unnest(ARRAY['propaganda', 'recruitment', 'incitement', 'instruction', 'financing',
                  'threat', 'glorification', 'other']) AS cat,
     unnest(ARRAY['account_suspended', 'content_removed']) AS act,
     unnest(ARRAY['own_detection', 'other']) AS src
"""


LOAD_CHUNK = 500_000


def progress(done: int, total: int, seconds: float) -> None:
    """One progress line, rewritten in place: a bar, the count and the rate."""
    width = 30
    filled = width * done // total
    rate = done / seconds if seconds else 0.0
    end = "\n" if done >= total else ""
    print(
        f"\r  [{'#' * filled}{'.' * (width - filled)}] {done:,}/{total:,} flags, {rate:,.0f}/s",
        end=end,
        flush=True,
    )


async def load(db: Database, args: argparse.Namespace) -> dict[str, float]:
    """Bulk-load closed flags, live flags and reports; rebuild the rollups; vacuum."""
    import asyncpg

    end = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start = (end.date().replace(day=1) - timedelta(days=31 * (args.months - 1))).replace(day=1)
    timings: dict[str, float] = {}
    conn = await asyncpg.connect(db.dsn)
    try:
        await conn.execute("SET synchronous_commit = off")
        async with conn.transaction():
            # The rollup trigger would run a million times; rebuild the rollups set-based
            # instead, in the same transaction (exactly what the trigger would have made).
            await conn.execute("ALTER TABLE flag DISABLE TRIGGER flag_stats_insert")
            t = time.perf_counter()
            begin = datetime.combine(start, datetime.min.time(), UTC)
            # Chunks: a bounded statement each, and a progress line at ten million.
            for done in range(0, args.flags, LOAD_CHUNK):
                chunk = min(LOAD_CHUNK, args.flags - done)
                await conn.execute(LOAD_SQL, chunk, begin, end, done)
                progress(done + chunk, args.flags, time.perf_counter() - t)
            timings["load_flags_s"] = time.perf_counter() - t
            await conn.execute(LIVE_SQL.split(";")[0], 3000)
            await conn.execute(LIVE_SQL.split(";")[1], 3000)
            await conn.execute(REPORTS_SQL, start, end.date().replace(day=1))
            await conn.execute("ALTER TABLE flag ENABLE TRIGGER flag_stats_insert")
            t = time.perf_counter()
            await conn.execute("SELECT fb_stats_rebuild()")
            timings["rebuild_rollups_s"] = time.perf_counter() - t
        t = time.perf_counter()
        await conn.execute("VACUUM ANALYZE")
        timings["vacuum_analyze_s"] = time.perf_counter() - t
    finally:
        await conn.close()
    return {k: round(v, 1) for k, v in timings.items()}


async def sizes(db: Database) -> dict[str, int]:
    """Rows in the flag table and the rollups."""
    import asyncpg

    conn = await asyncpg.connect(db.dsn)
    try:
        out = {}
        for table in (
            "flag",
            "outcome_rollup_day",
            "outcome_rollup_month",
            "outcome_rollup_narrow_day",
            "outcome_rollup_narrow_month",
            "response_time_rollup_day",
            "response_time_rollup_month",
        ):
            out[table] = int(await conn.fetchval(f"SELECT count(*) FROM {table}"))  # noqa: S608
        out["closed_flags"] = int(
            await conn.fetchval("SELECT count(*) FROM flag WHERE status = 'closed'")
        )
        return out
    finally:
        await conn.close()


# --------------------------------------------------------------------------- measuring


def queries(today: date, months: int) -> list[tuple[str, str, dict[str, str]]]:
    """(label, path, params) of the timed requests: the questions dashboards ask."""
    first = today.replace(day=1)
    span_from = (first - timedelta(days=31 * (months - 1))).replace(day=1).isoformat()
    to = (today + timedelta(days=1)).isoformat()
    ragged_from = (today - timedelta(days=200)).isoformat()
    last30 = (today - timedelta(days=30)).isoformat()
    quarter_from = (first - timedelta(days=62)).replace(day=1).isoformat()
    all_but_time = "country,agency,platform,kind,category,action"
    return [
        ("outcomes by country, platform, month (2 years)", "/v1/stats/outcomes",
         {"from": span_from, "to": to, "group_by": "country,platform,month"}),
        ("outcomes suspensions by platform, month (2 years)", "/v1/stats/outcomes",
         {"from": span_from, "to": to, "group_by": "platform,month",
          "action": "account_suspended"}),
        ("outcomes by agency (default: 12 months)", "/v1/stats/outcomes",
         {"group_by": "agency"}),
        ("outcomes by all six dimensions (2 years)", "/v1/stats/outcomes",
         {"from": span_from, "to": to, "group_by": all_but_time}),
        ("outcomes by all six dimensions (3 months)", "/v1/stats/outcomes",
         {"from": quarter_from, "to": to, "group_by": all_but_time}),
        ("outcomes by platform, category (ragged 200 days)", "/v1/stats/outcomes",
         {"from": ragged_from, "to": to, "group_by": "platform,category"}),
        ("outcomes by day, platform (30 days)", "/v1/stats/outcomes",
         {"from": last30, "to": to, "group_by": "day,platform"}),
        ("outcomes total (2 years)", "/v1/stats/outcomes", {"from": span_from, "to": to}),
        ("outcomes.csv by country, platform, month (2 years)", "/v1/stats/outcomes.csv",
         {"from": span_from, "to": to, "group_by": "country,platform,month"}),
        ("platform-reports by platform, month, source", "/v1/stats/platform-reports",
         {"from": span_from, "to": to, "group_by": "platform,month,source"}),
        ("response-times by platform (2 years)", "/v1/stats/response-times",
         {"from": span_from, "to": to, "group_by": "platform"}),
        ("response-times by priority (12 months)", "/v1/stats/response-times",
         {"group_by": "priority"}),
        ("agencies", "/v1/stats/agencies", {}),
        ("platforms", "/v1/stats/platforms", {}),
    ]  # fmt: skip


def time_endpoints(base: str, token: str, repeat: int, months: int) -> list[dict[str, Any]]:
    """Sequential requests per endpoint: 3 untimed, then `repeat` timed."""
    import httpx

    out = []
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, headers=headers, timeout=30.0) as client:
        for label, path, params in queries(datetime.now(UTC).date(), months):
            for _ in range(3):
                resp = client.get(path, params=params)
                resp.raise_for_status()
            samples = []
            for _ in range(repeat):
                t = time.perf_counter()
                resp = client.get(path, params=params)
                samples.append((time.perf_counter() - t) * 1000)
                resp.raise_for_status()
            csv = path.endswith(".csv")
            rows = resp.text.count("\n") - 1 if csv else len(resp.json()["items"])
            samples.sort()
            out.append(
                {
                    "label": label,
                    "path": path,
                    "params": params,
                    "rows": rows,
                    "median_ms": round(statistics.median(samples), 2),
                    "p90_ms": round(samples[int(0.9 * (len(samples) - 1))], 2),
                    "max_ms": round(samples[-1], 2),
                }
            )
    return out


async def direct_check(db: Database, base: str, token: str, months: int) -> dict[str, Any]:
    """One grouping from the API against COUNT(*) over the flag table, and both timings."""
    import asyncpg
    import httpx

    label, path, params = queries(datetime.now(UTC).date(), months)[0]
    async with httpx.AsyncClient(base_url=base) as client:
        resp = await client.get(path, params=params, headers={"Authorization": f"Bearer {token}"})
    api = {(i["country"], i["platform"], i["month"]): i["count"] for i in resp.json()["items"]}
    conn = await asyncpg.connect(db.dsn)
    try:
        t = time.perf_counter()
        rows = await conn.fetch(
            """
            SELECT country, platform, to_char(closed_at AT TIME ZONE 'UTC', 'YYYY-MM'), count(*)
            FROM flag
            WHERE status = 'closed' AND (closed_at AT TIME ZONE 'UTC')::date >= $1
              AND (closed_at AT TIME ZONE 'UTC')::date < $2
            GROUP BY 1, 2, 3
            """,
            date.fromisoformat(params["from"]),
            date.fromisoformat(params["to"]),
        )
        direct_ms = (time.perf_counter() - t) * 1000
    finally:
        await conn.close()
    direct = {(r[0], r[1], r[2]): int(r[3]) for r in rows}
    return {"grouping": label, "equal": api == direct, "direct_count_ms": round(direct_ms, 1)}


def _prepare(args: argparse.Namespace, db: Database, needs_load: bool) -> tuple[Any, Any]:
    """The world (loaded now, or saved by an earlier load) and the load timings."""
    if not needs_load:
        return json.loads((DATA_DIR / "stats-world.json").read_text()), {}
    world = asyncio.run(create_world(db))
    print(f"loading {args.flags:,} closed flags over {args.months} months ...", flush=True)
    timings = asyncio.run(load(db, args))
    (DATA_DIR / "stats-world.json").write_text(json.dumps(world))
    return world, timings


def start_stats_server(db: Database, *, workers: int = 1) -> Server:
    """FlagBridge on the stats database, ready."""
    return start_ready(
        "flagbridge-stats",
        ["app.main:create_app", "--factory"],
        flagbridge_env(db),
        "/v1/stats",
        "/readyz",
        workers=workers,
    )


def _measure(args: argparse.Namespace, db: Database, world: dict[str, Any]) -> tuple[Any, Any]:
    """Start FlagBridge, time every endpoint and run the direct check; stop it."""
    server = start_stats_server(db)
    try:
        token = fetch_token(server, world["observer_client_id"], world["observer_secret"])
        results = time_endpoints(server.base, token, args.repeat, args.months)
        check = asyncio.run(direct_check(db, server.base, token, args.months))
    finally:
        stop_server(server)
    return results, check


def _print_table(results: list[dict[str, Any]], check: dict[str, Any]) -> None:
    width = max(len(r["label"]) for r in results)
    print(f"\n{'endpoint':<{width}}  {'rows':>6}  {'median':>8}  {'p90':>8}  {'max':>8}")
    for r in results:
        rows = "" if r["rows"] is None else r["rows"]
        print(
            f"{r['label']:<{width}}  {rows:>6}  {r['median_ms']:>6.1f}ms  {r['p90_ms']:>6.1f}ms"
            f"  {r['max_ms']:>6.1f}ms"
        )
    slowest = max(r["median_ms"] for r in results)
    print(
        f"\nslowest median {slowest:.1f} ms (target < {TARGET_MS:g} ms): "
        f"{'met' if slowest < TARGET_MS else 'NOT met'}"
    )
    print(
        f"check: API == direct COUNT(*) for '{check['grouping']}': {check['equal']}; the direct "
        f"query takes {check['direct_count_ms']} ms"
    )


def main(argv: list[str] | None = None) -> int:
    """Set up, load, measure, check, report, tear down."""
    args = parse_args(argv)
    started = time.monotonic()
    print(f"stats benchmark: database {DATABASE} ...", flush=True)
    db, needs_load = open_stats_database(args)
    world, timings = _prepare(args, db, needs_load)
    table_sizes = asyncio.run(sizes(db))
    print(f"rows: {table_sizes}  load: {timings}", flush=True)
    results, check = _measure(args, db, world)
    _print_table(results, check)
    report = {
        "when": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "flags": args.flags,
        "months": args.months,
        "repeat": args.repeat,
        "rows": table_sizes,
        "load": timings,
        "results": results,
        "check": check,
        "target_ms": TARGET_MS,
        "wall_seconds": round(time.monotonic() - started, 1),
    }
    write_json(args.output, report)
    print(f"wrote {display(args.output)} ({report['wall_seconds']} s in all)")
    return 0 if check["equal"] else 1


if __name__ == "__main__":
    sys.exit(main())
