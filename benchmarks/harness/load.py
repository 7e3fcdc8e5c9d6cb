"""Load generation (wrk, or the bundled Python generator) and what one timed run measured."""

from __future__ import annotations

import asyncio
import contextlib
import json
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from benchmarks.harness.database import BENCH, Database, checkpoint
from benchmarks.harness.servers import Server


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
    script: str = "submit.lua"  # wrk's request script, in benchmarks/


def _wrk_command(spec: LoadSpec, url: str, seconds: float, prefix: str) -> list[str]:
    assert spec.wrk is not None
    return [
        spec.wrk,
        "-t1",
        f"-c{spec.concurrency}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "5s",
        "-s",
        str(BENCH / spec.script),
        url,
        "--",
        prefix,
        spec.platform,
        spec.token,
    ]


def _python_command(spec: LoadSpec, url: str, seconds: float, prefix: str) -> list[str]:
    return [
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


def _bench_json(proc: subprocess.CompletedProcess[str], what: str) -> dict[str, Any]:
    """The generator's one "BENCH_JSON {...}" output line, parsed."""
    for line in proc.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            return dict(json.loads(line[len("BENCH_JSON ") :]))
    raise RuntimeError(f"{what} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")


def generate_load(spec: LoadSpec, server: Server, seconds: float, prefix: str) -> dict[str, Any]:
    """Run the generator against one server and return its BENCH_JSON summary."""
    url = server.base + server.path
    build = _wrk_command if spec.generator == "wrk" else _python_command
    proc = subprocess.run(  # noqa: S603 - fixed argv: wrk or our own interpreter
        build(spec, url, seconds, prefix),
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=False,
    )
    return _bench_json(proc, "load generator")


def run_script(
    wrk: str, script: str, url: str, *, seconds: float, concurrency: int, script_args: list[str]
) -> dict[str, Any]:
    """wrk with one of benchmarks/*.lua against url; the script's BENCH_JSON summary."""
    argv = [wrk, "-t1", f"-c{concurrency}", f"-d{max(1, round(seconds))}s", "--timeout", "10s"]
    argv += ["-s", str(BENCH / script), url, "--", *script_args]
    proc = subprocess.run(  # noqa: S603 - fixed argv: wrk and our own script
        argv, capture_output=True, text=True, timeout=seconds + 60, check=False
    )
    return _bench_json(proc, "wrk")


def _summary(raw: dict[str, Any], cpu: dict[str, float | None]) -> dict[str, Any]:
    """The generator's figures and the CPU readings as one result row."""
    duration = raw["duration_us"] / 1e6
    created = int(raw["created"])
    result = {
        "seconds": round(duration, 3),
        "requests": int(raw["requests"]),
        "created": created,
        "non_201": int(raw["other_status"]),
        "socket_errors": sum(
            int(raw["errors"][k]) for k in ("connect", "read", "write", "timeout")
        ),
        "first_error": raw.get("first_error") or None,
        "rps": round(created / duration, 1) if duration else 0.0,
        "latency_ms": {k: round(float(v) / 1000, 2) for k, v in raw["latency_us"].items()},
        **{k: (round(v, 3) if v is not None else None) for k, v in cpu.items()},
    }
    for key in ("server_cpu_s", "postgres_cpu_s", "generator_cpu_s"):
        if result[key] is not None and created:
            result[key.removesuffix("_s") + "_ms_per_req"] = round(result[key] * 1000 / created, 3)
    return result


def measure(
    spec: LoadSpec,
    db: Database,
    server: Server,
    *,
    seconds: float,
    prefix: str,
    probe: Callable[[], dict[str, Any]] | None = None,
) -> tuple[dict[str, Any], tuple[dict[str, Any], dict[str, Any]] | None]:
    """Checkpoint, load one server for `seconds`; the result row, and probe() before/after."""
    asyncio.run(checkpoint(db))
    time.sleep(0.5)
    before = probe() if probe else None
    meter = CpuMeter(server.proc.pid, db.postmaster_pid)
    meter.start()
    raw = generate_load(spec, server, seconds, prefix)
    cpu = meter.stop()
    after = probe() if probe else None
    probed = (before, after) if before is not None and after is not None else None
    return _summary(raw, cpu), probed
