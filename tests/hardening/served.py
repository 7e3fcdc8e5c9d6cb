"""`flagbridge serve` as a child process, for tests that need the real server: uvicorn,
its worker processes and a database that can go away under it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
FLAGBRIDGE = str(Path(sys.executable).with_name("flagbridge"))
# Rate limits out of the way, for served tests about something else (tests/ratelimit runs
# the real budgets): a client that meets one waits for the next minute.
UNLIMITED_RATES = {
    "FLAGBRIDGE_RATE_WRITES_PER_MINUTE": "1000000",
    "FLAGBRIDGE_RATE_READS_PER_MINUTE": "1000000",
    "FLAGBRIDGE_RATE_TOKEN_PER_ADDRESS_PER_MINUTE": "1000000",
    "FLAGBRIDGE_RATE_TOKEN_FREE_FAILURES": "10000",
}


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_env(data_dir: Path, database_url: str | None = None, **extra: str) -> dict[str, str]:
    """The environment of a served app: its own data folder, and a database if given."""
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "FLAGBRIDGE_ENV"}}
    # INFO: started_workers() counts the workers' start-up lines.
    env.update(
        FLAGBRIDGE_DATA_DIR=str(data_dir),
        FLAGBRIDGE_ENV="development",
        FLAGBRIDGE_LOG_LEVEL="INFO",
        **extra,
    )
    if database_url is not None:
        env["DATABASE_URL"] = database_url
    return env


def run_cli(env: dict[str, str], *args: str, timeout: float = 300) -> Any:
    """Run `flagbridge <args> --json` and return what it printed."""
    done = subprocess.run(
        [FLAGBRIDGE, *args, "--json"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout)


class ServedApp:
    """One `flagbridge serve` supervisor and its workers on a free port."""

    def __init__(self, env: dict[str, str], *, workers: int = 1, log: Path) -> None:
        self.env = env
        self.workers = workers
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log = log
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, *, within: float = 120) -> None:
        """Start the server and wait until every worker answers."""
        args = ["serve", "--port", str(self.port), "--workers", str(self.workers)]
        with self.log.open("ab") as out:
            self._process = subprocess.Popen(
                [FLAGBRIDGE, *args], env=self.env, cwd=ROOT, stdout=out, stderr=out
            )
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            assert self._process.poll() is None, self.log.read_text()[-4000:]
            # One worker is the supervisor itself; more are its children.
            workers = 0 if self.workers == 1 else self.workers
            if self._ready() and len(self.worker_pids()) == workers:
                return
            time.sleep(0.2)
        raise AssertionError("the server did not come up:\n" + self.log.read_text()[-4000:])

    def _ready(self) -> bool:
        with contextlib.suppress(httpx.HTTPError):
            return httpx.get(self.base_url + "/readyz", timeout=2).status_code == 200
        return False

    def worker_pids(self) -> list[int]:
        """The process ids of the supervisor's live workers (its child processes)."""
        assert self._process is not None
        pid = self._process.pid
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        # uvicorn's supervisor also runs a resource tracker child for multiprocessing.
        return [int(c) for c in children if "resource_tracker" not in _cmdline(int(c))]

    def started_workers(self) -> int:
        """How many worker processes have finished starting up, ever (from the log)."""
        return self.log.read_text(errors="replace").count('"msg": "flagbridge started"')

    def stop(self) -> None:
        """Stop the server gracefully (SIGTERM), killing it if it does not go."""
        if self._process is None or self._process.poll() is not None:
            return
        self._process.send_signal(signal.SIGTERM)
        try:
            self._process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()

    def token(self, client_id: str, client_secret: str) -> str:
        """An access token for a client, from the served token endpoint."""
        form = {
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": client_secret,
        }
        resp = httpx.post(self.base_url + "/oauth/token", data=form, timeout=30)
        assert resp.status_code == 200, resp.text
        return str(resp.json()["access_token"])

    def roles(self, platform: str) -> dict[str, str]:
        """An organisation of every kind with one client, and each one's access token.

        The operator is made with the CLI, as a new installation's first operator is; the
        others through the admin API. The platform organisation serves `platform`.
        """
        org = run_cli(self.env, "org", "create", "--kind", "operator", "--name", "fuzz-ops")
        client = run_cli(self.env, "client", "create", "--org", org["id"], "--name", "ops")
        tokens = {"operator": self.token(client["client_id"], client["client_secret"])}
        admin = {"Authorization": f"Bearer {tokens['operator']}"}
        extra = {"agency": {"country": "ID"}, "platform": {"platform": platform}}
        for kind in ("agency", "platform", "observer"):
            body = {"kind": kind, "name": f"{kind} {platform}", **extra.get(kind, {})}
            made = httpx.post(self.base_url + "/v1/admin/organizations", json=body, headers=admin)
            assert made.status_code == 201, made.text
            body = {"organization_id": made.json()["id"], "name": kind}
            made = httpx.post(self.base_url + "/v1/admin/clients", json=body, headers=admin)
            assert made.status_code == 201, made.text
            tokens[kind] = self.token(made.json()["client_id"], made.json()["client_secret"])
        return tokens


def _cmdline(pid: int) -> str:
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    return ""


@contextlib.contextmanager
def served(env: dict[str, str], *, workers: int = 1, log: Path) -> Iterator[ServedApp]:
    """A started server, stopped on the way out."""
    app = ServedApp(env, workers=workers, log=log)
    try:
        app.start()
        yield app
    finally:
        app.stop()
