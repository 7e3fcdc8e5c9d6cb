"""`flagbridge serve --workers 2`: /metrics is 404 on the API's port, and the one private
listener of the supervising process serves what the workers counted (every request on its
own connection, so any worker may take it)."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_until_up(url: str, process: subprocess.Popen[str]) -> None:
    for _ in range(600):
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} never answered")


def _count(exposition: str, route: str) -> float:
    pattern = (
        r'^flagbridge_http_requests_total\{method="GET",route="'
        + re.escape(route)
        + r'",status="200"\} (\S+)$'
    )
    return sum(float(m) for m in re.findall(pattern, exposition, flags=re.M))


def test_serve_keeps_metrics_off_the_api_port(database_url, tmp_path):
    api, metrics = _free_port(), _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "FLAGBRIDGE_DATA_DIR": str(tmp_path),
        "FLAGBRIDGE_MIGRATIONS_DIR": str(ROOT / "alembic"),
        "FLAGBRIDGE_METRICS_BIND": f"127.0.0.1:{metrics}",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli.main", "serve", "--port", str(api), "--workers", "2"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_until_up(f"http://127.0.0.1:{api}/healthz", process)
        before = _count(httpx.get(f"http://127.0.0.1:{metrics}/metrics").text, "/healthz")
        assert httpx.get(f"http://127.0.0.1:{api}/metrics").status_code == 404
        for _ in range(40):
            assert httpx.get(f"http://127.0.0.1:{api}/healthz").status_code == 200
        after = _count(httpx.get(f"http://127.0.0.1:{metrics}/metrics").text, "/healthz")
        assert after - before == 40
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
