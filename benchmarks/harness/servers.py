"""The servers under test: uvicorn processes on 127.0.0.1, started and stopped by us."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.harness.database import DATA_DIR, ROOT, Database

HOST = "127.0.0.1"


def app_env(db: Database, **extra: str) -> dict[str, str]:
    """This process's environment for a server on db (ROOT importable, no metrics dir)."""
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    env["DATABASE_URL"] = db.url
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p
    )
    return {**env, **extra}


# Load generators send far more than a client's production budget from one address; the
# limiter still runs (its cost is part of what is measured), it just never refuses.
UNTHROTTLED = {
    "FLAGBRIDGE_RATE_WRITES_PER_MINUTE": "1000000",
    "FLAGBRIDGE_RATE_READS_PER_MINUTE": "1000000",
    "FLAGBRIDGE_RATE_TOKEN_PER_ADDRESS_PER_MINUTE": "1000000",
    "FLAGBRIDGE_RATE_LONG_POLL_WAITERS": "1000",
}


def flagbridge_env(db: Database, **extra: str) -> dict[str, str]:
    """app_env plus FlagBridge's own settings: var/bench for keys, quiet logs, no throttling."""
    return app_env(
        db,
        FLAGBRIDGE_DATA_DIR=str(DATA_DIR),
        FLAGBRIDGE_LOG_LEVEL="WARNING",
        **{**UNTHROTTLED, **extra},
    )


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
    name: str,
    app_args: list[str],
    env: dict[str, str],
    path: str,
    ready_path: str,
    *,
    workers: int = 1,
) -> Server:
    """uvicorn with `workers` workers and no access log, its output in var/bench/logs/<name>.log."""
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
        str(workers),
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


def start_ready(
    name: str,
    app_args: list[str],
    env: dict[str, str],
    path: str,
    ready_path: str,
    *,
    workers: int = 1,
) -> Server:
    """start_server, then wait_ready; a server that never gets ready is stopped."""
    server = start_server(name, app_args, env, path, ready_path, workers=workers)
    try:
        wait_ready(server)
    except BaseException:
        stop_server(server)
        raise
    return server


def worker_rss_mb(server: Server) -> list[float]:
    """Resident memory of each worker once it is idle, MB (with one worker uvicorn runs
    in-process).

    A load generator that stops leaves requests in flight (a token request's argon2 hash
    keeps 19 MiB until it ends), so the figure is taken after the workers' CPU use settles:
    what a worker keeps, not what it was busy with at that instant.
    """
    import psutil

    proc = psutil.Process(server.proc.pid)
    # uvicorn's workers are spawned processes; its other child, multiprocessing's resource
    # tracker (13 MB), serves no requests.
    spawned = [p for p in proc.children() if any("spawn_main" in a for a in p.cmdline())]
    workers = spawned or [proc]
    _wait_idle(workers)
    return [round(p.memory_info().rss / 2**20, 1) for p in workers]


def _wait_idle(workers: list[Any], *, window: float = 0.5, timeout: float = 30.0) -> None:
    """Return once the processes used under 5 % of a core over `window` (at most `timeout`)."""

    def cpu() -> float:
        return sum(sum(p.cpu_times()[:2]) for p in workers)

    deadline = time.monotonic() + timeout
    before = cpu()
    while time.monotonic() < deadline:
        time.sleep(window)
        now = cpu()
        if now - before < 0.05 * window:
            return
        before = now
