"""Submission throughput of FlagBridge, audit sealing on and off, against a bare baseline.

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
6. stops the servers it started (and the embedded PostgreSQL, if it started it).

Exit status: 0 if the sealing-on ratio reaches --min-ratio and every check passed, 2 if
only the ratio is short, 1 if a check failed. Traffic goes to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform as platform_mod
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "benchmarks"
DATA_DIR = ROOT / "var" / "bench"
RESULTS = BENCH / "results"
DATABASE = "flagbridge_bench"
HOST = "127.0.0.1"
SIDES = ("baseline", "sealing-on", "sealing-off")
# One letter per side in the account handles, so no two runs ever submit the same one.
SIDE_CODES = {"baseline": "b", "sealing-on": "n", "sealing-off": "f"}

if str(ROOT) not in sys.path:  # `python benchmarks/run.py` puts benchmarks/ first, not ROOT
    sys.path.insert(0, str(ROOT))


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
    args = parser.parse_args(argv)
    if args.seconds <= 0 or args.rounds < 1 or args.concurrency < 1 or args.warmup < 0:
        parser.error("--seconds, --rounds and --concurrency must be positive")
    if args.seal_on_seconds <= 0 or args.seal_off_seconds <= 0 or args.seal_entries < 0:
        parser.error("--seal-on-seconds and --seal-off-seconds must be positive")
    return args


# ---------------------------------------------------------------------------- database


@dataclass
class Database:
    """Where the benchmark's database is and whether this process owns the server."""

    url: str  # postgresql+asyncpg://
    embedded: bool
    server: Any = None  # keeps the embedded server attached until this process exits
    postmaster_pid: int | None = None

    @property
    def dsn(self) -> str:
        """The URL in the form asyncpg.connect takes."""
        return self.url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def _reset_embedded_db(socket_dir: str, synchronous_commit: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(host=socket_dir, user="postgres", database="postgres")
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{DATABASE}"')
        await conn.execute(
            f'ALTER DATABASE "{DATABASE}" SET synchronous_commit = {synchronous_commit}'
        )
    finally:
        await conn.close()


def open_database(args: argparse.Namespace) -> Database:
    """DATABASE_URL as is, else a fresh database on the embedded server in var/bench."""
    from app.embedded import socket_dir_of, sqlalchemy_url, start_embedded, to_asyncpg_url
    from app.migrations import upgrade_to_head

    if os.environ.get("DATABASE_URL"):
        db = Database(to_asyncpg_url(os.environ["DATABASE_URL"]), embedded=False)
    else:
        server = start_embedded(DATA_DIR)
        socket_dir = socket_dir_of(server)
        asyncio.run(_reset_embedded_db(socket_dir, args.synchronous_commit))
        db = Database(
            sqlalchemy_url(socket_dir, DATABASE),
            embedded=True,
            server=server,
            postmaster_pid=server.get_postmaster_info().pid,
        )
    upgrade_to_head(ROOT / "alembic", db.url)
    return db


async def create_world(db: Database, run_id: str) -> dict[str, str]:
    """A platform and two agencies (FlagBridge's, the baseline's), each agency with a client."""
    from app.db import make_engine, make_sessionmaker
    from app.orgs import service
    from app.orgs.schemas import ClientCreate, OrganizationCreate

    engine = make_engine(db.url, pool_size=1, max_overflow=0)
    world: dict[str, str] = {"platform": f"bench-{run_id}", "country": "ID"}
    try:
        async with make_sessionmaker(engine)() as session, session.begin():

            async def org(**spec: Any) -> Any:
                return await service.create_organization(
                    session=session,
                    actor=None,
                    actor_label="benchmark",
                    data=OrganizationCreate(**spec),
                )

            async def client(org_id: uuid.UUID) -> tuple[str, str]:
                cl, secret = await service.create_client(
                    session=session,
                    actor=None,
                    actor_label="benchmark",
                    data=ClientCreate(organization_id=org_id, name="benchmark"),
                )
                return str(cl.id), secret

            plat = await org(
                kind="platform", name=f"bench platform {run_id}", platform=world["platform"]
            )
            fb = await org(kind="agency", name=f"bench agency {run_id}", country="ID")
            base = await org(kind="agency", name=f"bench baseline agency {run_id}", country="ID")
            world["platform_org"] = str(plat.id)
            world["fb_agency_org"] = str(fb.id)
            world["fb_client_id"], world["fb_client_secret"] = await client(fb.id)
            world["base_agency_org"] = str(base.id)
            world["base_client_id"], _ = await client(base.id)
    finally:
        await engine.dispose()
    return world


async def pg_facts(db: Database) -> dict[str, str]:
    """The PostgreSQL settings that matter for write throughput."""
    import asyncpg

    conn = await asyncpg.connect(db.dsn)
    try:
        facts = {}
        for name in ("server_version", "synchronous_commit", "fsync", "shared_buffers"):
            facts[name] = str(await conn.fetchval(f"SHOW {name}"))
        return facts
    finally:
        await conn.close()


async def checkpoint(db: Database) -> None:
    """Flush dirty pages before a timed round so no round inherits another's checkpoint."""
    import asyncpg

    conn = await asyncpg.connect(db.dsn)
    try:
        with contextlib.suppress(asyncpg.PostgresError):  # needs superuser / pg_checkpoint
            await conn.execute("CHECKPOINT")
    finally:
        await conn.close()


async def count_rows(db: Database, world: dict[str, str]) -> dict[str, int]:
    """What actually landed, per side."""
    import asyncpg

    conn = await asyncpg.connect(db.dsn)
    try:
        base_org = uuid.UUID(world["base_agency_org"])
        fb_org = uuid.UUID(world["fb_agency_org"])
        fb_client = uuid.UUID(world["fb_client_id"])
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
            base_org,
            fb_org,
            fb_client,
        )
        assert row is not None
        return {k: int(v) for k, v in dict(row).items()}
    finally:
        await conn.close()


async def audit_progress(db: Database) -> dict[str, int]:
    """Audit entries written and sealed so far (positions are gapless: max = count)."""
    import asyncpg

    conn = await asyncpg.connect(db.dsn)
    try:
        row = await conn.fetchrow(
            "SELECT (SELECT count(*) FROM audit_entry) AS entries, "
            "(SELECT coalesce(max(position), 0) FROM audit_seal) AS sealed"
        )
        assert row is not None
        return {"entries": int(row["entries"]), "sealed": int(row["sealed"])}
    finally:
        await conn.close()


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
    import asyncpg

    conn = await asyncpg.connect(db.dsn)
    try:
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
    finally:
        await conn.close()


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


# ----------------------------------------------------------------------------- servers


@dataclass
class Server:
    """One uvicorn process under test."""

    name: str
    port: int
    path: str  # the submission route
    ready_path: str
    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def base(self) -> str:
        """http://127.0.0.1:port"""
        return f"http://{HOST}:{self.port}"


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def start_server(
    name: str, app_args: list[str], env: dict[str, str], path: str, ready_path: str
) -> Server:
    """uvicorn with one worker and no access log, its output in var/bench/logs/<name>.log."""
    port = free_port()
    logs = DATA_DIR / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    log = logs / f"{name}.log"
    cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        *app_args,
        "--host",
        HOST,
        "--port",
        str(port),
        "--workers",
        "1",
        "--no-access-log",
        "--no-server-header",
        "--log-level",
        "warning",
    ]
    with log.open("ab") as out:
        proc = subprocess.Popen(  # noqa: S603 - fixed argv, our own interpreter
            cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    return Server(name, port, path, ready_path, proc, log)


def wait_ready(server: Server, timeout: float = 60.0) -> None:
    """Poll the readiness route until 200, failing early if the process dies."""
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise RuntimeError(
                f"{server.name} exited with {server.proc.returncode}:\n{_tail(server.log)}"
            )
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(server.base + server.ready_path, timeout=2.0).status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"{server.name} not ready after {timeout:.0f}s:\n{_tail(server.log)}")


def stop_server(server: Server) -> None:
    """SIGTERM, then SIGKILL if it lingers (only the process this script started)."""
    if server.proc.poll() is None:
        server.proc.terminate()
        try:
            server.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.proc.kill()
            server.proc.wait(timeout=5)


def _tail(path: Path, lines: int = 30) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return ""


def fetch_token(server: Server, client_id: str, secret: str) -> str:
    """An agency access token from FlagBridge's /oauth/token."""
    import httpx

    resp = httpx.post(
        server.base + "/oauth/token",
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
        timeout=10.0,
    )
    resp.raise_for_status()
    return str(resp.json()["access_token"])


# ------------------------------------------------------------------------ measurement


class CpuMeter:
    """CPU seconds used during a run: by the server, PostgreSQL, the generator, and the rest.

    The machine is shared and noisy; "other" (everything on the machine that is none of the
    three, e.g. a test suite running beside the benchmark) tells whether a round was
    disturbed.
    """

    def __init__(self, server_pid: int, postmaster_pid: int | None) -> None:
        import psutil

        self._psutil = psutil
        self.server = psutil.Process(server_pid)
        self.postmaster = psutil.Process(postmaster_pid) if postmaster_pid else None

    def _pg(self) -> dict[int, float]:
        if self.postmaster is None:
            return {}
        out: dict[int, float] = {}
        for proc in [self.postmaster, *self.postmaster.children(recursive=True)]:
            with contextlib.suppress(self._psutil.Error):
                t = proc.cpu_times()
                out[proc.pid] = t.user + t.system
                if proc is self.postmaster:  # backends that exited and were reaped
                    out[proc.pid] += t.children_user + t.children_system
        return out

    def _srv(self) -> float:
        t = self.server.cpu_times()
        return t.user + t.system

    @staticmethod
    def _reaped_children() -> float:
        r = resource.getrusage(resource.RUSAGE_CHILDREN)
        return r.ru_utime + r.ru_stime

    def _machine(self) -> tuple[float, float]:
        """(process, steal) CPU seconds of the whole machine so far.

        Process time is user + nice + system; interrupt handling (loopback networking
        included) is left out, as it is of the per-process figures.
        """
        t = self._psutil.cpu_times()
        return t.user + t.nice + t.system, getattr(t, "steal", 0.0)

    def start(self) -> None:
        """Take the starting readings."""
        self.srv0, self.pg0 = self._srv(), self._pg()
        self.gen0, self.all0 = self._reaped_children(), self._machine()

    def stop(self) -> dict[str, float | None]:
        """CPU seconds used since start() (the generator must have exited and been reaped)."""
        srv = self._srv() - self.srv0
        gen = self._reaped_children() - self.gen0
        busy1, steal1 = self._machine()
        busy, steal = busy1 - self.all0[0], steal1 - self.all0[1]
        pg: float | None = None
        if self.postmaster is not None:
            pg1 = self._pg()
            pg = sum(v - self.pg0.get(pid, 0.0) for pid, v in pg1.items())
        other = busy - srv - gen - (pg or 0.0)
        return {
            "server_cpu_s": srv,
            "postgres_cpu_s": pg,
            "generator_cpu_s": gen,
            "other_cpu_s": max(0.0, other) if pg is not None else None,
            # CPU the hypervisor gave to other guests while ours wanted it.
            "steal_cpu_s": steal,
        }


@dataclass
class LoadSpec:
    """What every run shares."""

    generator: str  # "wrk" or "python"
    wrk: str | None
    concurrency: int
    platform: str
    token: str
    run_id: str
    results: list[dict[str, Any]] = field(default_factory=list)


def generate_load(spec: LoadSpec, server: Server, seconds: float, prefix: str) -> dict[str, Any]:
    """Run the generator against one server and return its BENCH_JSON summary."""
    url = server.base + server.path
    if spec.generator == "wrk":
        assert spec.wrk is not None
        cmd = [
            spec.wrk,
            "-t1",
            f"-c{spec.concurrency}",
            f"-d{max(1, round(seconds))}s",
            "--timeout",
            "5s",
            "-s",
            str(BENCH / "submit.lua"),
            url,
            "--",
            prefix,
            spec.platform,
            spec.token,
        ]
    else:
        cmd = [
            sys.executable,
            str(BENCH / "loadgen.py"),
            "--url",
            url,
            "--seconds",
            str(seconds),
            "--connections",
            str(spec.concurrency),
            "--prefix",
            prefix,
            "--platform",
            spec.platform,
            "--token",
            spec.token,
        ]
    proc = subprocess.run(  # noqa: S603 - fixed argv: wrk or our own interpreter
        cmd, capture_output=True, text=True, timeout=seconds + 60, check=False
    )
    for line in proc.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            return dict(json.loads(line[len("BENCH_JSON ") :]))
    raise RuntimeError(f"load generator failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")


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
    """Checkpoint, load one server for `seconds`, and summarise what happened."""
    asyncio.run(checkpoint(db))
    time.sleep(0.5)
    prefix = f"{spec.run_id}{SIDE_CODES[server.name]}{label}"
    before = asyncio.run(audit_progress(db)) if track_sealing else None
    meter = CpuMeter(server.proc.pid, db.postmaster_pid)
    meter.start()
    raw = generate_load(spec, server, seconds, prefix)
    cpu = meter.stop()
    after = asyncio.run(audit_progress(db)) if track_sealing else None
    duration = raw["duration_us"] / 1e6
    lat = raw["latency_us"]
    created = int(raw["created"])
    socket_errors = sum(int(raw["errors"][k]) for k in ("connect", "read", "write", "timeout"))
    result = {
        "side": server.name,
        "round": round_no,
        "label": label,
        "seconds": round(duration, 3),
        "requests": int(raw["requests"]),
        "created": created,
        "non_201": int(raw["other_status"]),
        "socket_errors": socket_errors,
        "first_error": raw.get("first_error") or None,
        "rps": round(created / duration, 1) if duration else 0.0,
        "latency_ms": {k: round(float(v) / 1000, 2) for k, v in lat.items()},
        **{k: (round(v, 3) if v is not None else None) for k, v in cpu.items()},
    }
    for key in ("server_cpu_s", "postgres_cpu_s", "generator_cpu_s"):
        if result[key] is not None and created:
            result[key.removesuffix("_s") + "_ms_per_req"] = round(result[key] * 1000 / created, 3)
    if before is not None and after is not None:
        # What the server's background sealer chained while the load ran, and how far it
        # was behind when the load stopped (at most one sealing interval's worth).
        result["audit"] = {
            "written": after["entries"] - before["entries"],
            "sealed": after["sealed"] - before["sealed"],
            "unsealed_at_end": after["entries"] - after["sealed"],
        }
    spec.results.append(result)
    return result


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


# -------------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    """Set up, measure, check, report, tear down."""
    args = parse_args(argv)
    wrk = shutil.which("wrk")
    generator = args.generator
    if generator == "auto":
        generator = "wrk" if wrk else "python"
    if generator == "wrk" and not wrk:
        print("wrk is not installed (apt-get install wrk); use --generator python", flush=True)
        return 1
    run_id = uuid.uuid4().hex[:8]
    started = time.monotonic()
    print(f"FlagBridge submission benchmark {run_id}: setting up the database...", flush=True)
    db = open_database(args)
    world = asyncio.run(create_world(db, run_id))
    facts = asyncio.run(pg_facts(db))

    common_env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    common_env["DATABASE_URL"] = db.url
    common_env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p
    )
    base_env = {
        **common_env,
        "BENCH_AGENCY_ORG": world["base_agency_org"],
        "BENCH_CLIENT_ID": world["base_client_id"],
        "BENCH_COUNTRY": world["country"],
        "BENCH_PLATFORM_ORG": world["platform_org"],
        "BENCH_POOL_SIZE": str(args.pool_size),
    }
    fb_env = {
        **common_env,
        "FLAGBRIDGE_DATA_DIR": str(DATA_DIR),
        "FLAGBRIDGE_LOG_LEVEL": "WARNING",
        "FLAGBRIDGE_DB_POOL_SIZE": str(args.pool_size),
    }
    seal_seconds = {"sealing-on": args.seal_on_seconds, "sealing-off": args.seal_off_seconds}
    logs = DATA_DIR / "logs"
    for old in logs.glob("*.log"):
        old.unlink()

    def start_flagbridge(side: str) -> Server:
        env = {**fb_env, "FLAGBRIDGE_AUDIT_SEAL_SECONDS": str(seal_seconds[side])}
        server = start_server(side, [args.flagbridge_app, "--factory"], env, "/v1/flags", "/readyz")
        try:
            wait_ready(server)
        except BaseException:
            stop_server(server)
            raise
        return server

    backlog: list[tuple[int, float]] = []
    baseline: Server | None = None
    try:
        baseline = start_server(
            "baseline", ["benchmarks.baseline_app:app"], base_env, "/flags", "/healthz"
        )
        # A first FlagBridge start makes the signing key and an agency token for all rounds.
        first = start_flagbridge("sealing-off")
        try:
            token = fetch_token(first, world["fb_client_id"], world["fb_client_secret"])
        finally:
            stop_server(first)
        wait_ready(baseline)
        spec = LoadSpec(generator, wrk, args.concurrency, world["platform"], token, run_id)
        print(
            f"generator {generator}, {args.concurrency} connections, {args.rounds} rounds x "
            f"{args.seconds:g} s per side (+{args.warmup:g} s warm-up per server start), one "
            f"uvicorn worker each, pool {args.pool_size}; audit sealing every "
            f"{args.seal_on_seconds:g} s (on) / {args.seal_off_seconds:g} s (off); "
            f"PostgreSQL {facts['server_version']}, "
            f"synchronous_commit={facts['synchronous_commit']}, fsync={facts['fsync']}",
            flush=True,
        )
        print(HEADER, flush=True)
        if args.warmup > 0:
            print_row(one_run(spec, db, baseline, seconds=args.warmup, label="w", round_no=None))
        for rnd in range(1, args.rounds + 1):
            print_row(
                one_run(spec, db, baseline, seconds=args.seconds, label=f"r{rnd}", round_no=rnd)
            )
            for side in ("sealing-on", "sealing-off"):
                if side == "sealing-on":
                    # The previous "off" round's entries: sealed now, so that the "on" round's
                    # sealer works on the entries of its own round only.
                    backlog.append(asyncio.run(seal_now(db)))
                server = start_flagbridge(side)
                try:
                    if args.warmup > 0:
                        print_row(
                            one_run(
                                spec,
                                db,
                                server,
                                seconds=args.warmup,
                                label=f"w{rnd}",
                                round_no=None,
                            )
                        )
                    print_row(
                        one_run(
                            spec,
                            db,
                            server,
                            seconds=args.seconds,
                            label=f"r{rnd}",
                            round_no=rnd,
                            track_sealing=side == "sealing-on",
                        )
                    )
                finally:
                    stop_server(server)  # graceful: requests in flight finish first
        time.sleep(1.0)  # let the baseline's requests in flight at the cut-off finish
        counts = asyncio.run(count_rows(db, world))
    finally:
        if baseline is not None:
            stop_server(baseline)

    print("measuring the sealing rate and verifying the chain...", flush=True)
    copies = asyncio.run(top_up_unsealed(db, args.seal_entries))
    sealed, seal_seconds_taken = asyncio.run(seal_now(db))
    verification = verify_chain_cli(db)

    report = summarise(args, spec, counts, facts, generator, world)
    report["sealing"] = sealing_report(
        args, spec, backlog, copies, sealed, seal_seconds_taken, verification
    )
    report["checks"]["chain"] = verification
    report["checks"]["ok"] = report["checks"]["ok"] and verification["ok"]
    report["wall_seconds"] = round(time.monotonic() - started, 1)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print_summary(report)
    print(f"wrote {_display(args.output)} ({report['wall_seconds']:g} s in all)", flush=True)
    if not report["checks"]["ok"]:
        return 1
    return 0 if report["meets_target"] else 2


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


def summarise(
    args: argparse.Namespace,
    spec: LoadSpec,
    counts: dict[str, int],
    facts: dict[str, str],
    generator: str,
    world: dict[str, str],
) -> dict[str, Any]:
    """The JSON report: runs, medians, ratios, correctness checks."""
    timed = [r for r in spec.results if r["round"] is not None]
    rps = {side: [r["rps"] for r in timed if r["side"] == side] for side in SIDES}
    median = {side: statistics.median(values) for side, values in rps.items()}

    def ratio(a: str, b: str) -> float:
        return round(median[a] / median[b], 3) if median[b] else 0.0

    def per_round(a: str, b: str) -> list[float]:
        return [round(x / y, 3) for x, y in zip(rps[a], rps[b], strict=True) if y]

    def side_total(sides: tuple[str, ...], key: str) -> int:
        return sum(int(r[key]) for r in spec.results if r["side"] in sides)

    def median_of(side: str, key: str, sub: str | None = None) -> float | None:
        vals = [r[key][sub] if sub else r[key] for r in timed if r["side"] == side]
        vals = [v for v in vals if v is not None]
        return round(statistics.median(vals), 3) if vals else None

    runs = {
        "baseline": args.rounds + (1 if args.warmup > 0 else 0),
        "flagbridge": 2 * args.rounds * (2 if args.warmup > 0 else 1),
    }
    checks: dict[str, Any] = {}
    for name, sides, rows_key in (
        ("baseline", ("baseline",), "baseline_flags"),
        ("flagbridge", ("sealing-on", "sealing-off"), "flagbridge_flags"),
    ):
        created = side_total(sides, "created")
        rows = counts[rows_key]
        checks[name] = {
            "responses_201": created,
            "rows": rows,
            # Requests sent just before the generator stopped are stored but not counted.
            "stored_after_cutoff": rows - created,
            "non_201": side_total(sides, "non_201"),
            "socket_errors": side_total(sides, "socket_errors"),
            "ok": 0 <= rows - created <= args.concurrency * runs[name]
            and side_total(sides, "non_201") == 0
            and side_total(sides, "socket_errors") == 0,
        }
    fb_rows = counts["flagbridge_flags"]
    extras = {
        k: counts[k]
        for k in (
            "flagbridge_open",
            "flagbridge_history",
            "flagbridge_feed",
            "flagbridge_audit",
            "flagbridge_idempotency_keys",
        )
    }
    checks["flagbridge"]["per_flag_records"] = extras
    checks["flagbridge"]["ok"] = checks["flagbridge"]["ok"] and all(
        v == fb_rows for v in extras.values()
    )
    checks["ok"] = checks["baseline"]["ok"] and checks["flagbridge"]["ok"]
    on_ratio = ratio("sealing-on", "baseline")
    return {
        "run_id": spec.run_id,
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform_mod.python_version(),
            "platform": platform_mod.platform(),
            "postgres": facts,
        },
        "settings": {
            "generator": generator,
            "seconds": args.seconds,
            "rounds": args.rounds,
            "warmup_seconds": args.warmup,
            "concurrency": args.concurrency,
            "pool_size": args.pool_size,
            "workers": 1,
            "platform": world["platform"],
            "flagbridge_app": args.flagbridge_app,
            "seal_on_seconds": args.seal_on_seconds,
            "seal_off_seconds": args.seal_off_seconds,
            "seal_entries": args.seal_entries,
        },
        "runs": spec.results,
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
        # The brief's target applies to FlagBridge as it runs in production: sealing on.
        "ratio": on_ratio,
        "ratios": {
            "sealing_on_vs_baseline": on_ratio,
            "sealing_off_vs_baseline": ratio("sealing-off", "baseline"),
            "sealing_on_vs_off": ratio("sealing-on", "sealing-off"),
        },
        "per_round_ratios": {
            "sealing_on_vs_baseline": per_round("sealing-on", "baseline"),
            "sealing_off_vs_baseline": per_round("sealing-off", "baseline"),
            "sealing_on_vs_off": per_round("sealing-on", "sealing-off"),
        },
        "target": args.min_ratio,
        "meets_target": on_ratio >= args.min_ratio,
        "checks": checks,
    }


def print_summary(report: dict[str, Any]) -> None:
    """The human summary under the table."""
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
    sealing = report.get("sealing")
    if sealing:
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


def _display(path: Path) -> str:
    with contextlib.suppress(ValueError):
        return str(path.resolve().relative_to(ROOT))
    return str(path)


if __name__ == "__main__":
    raise SystemExit(main())
