"""`flagbridge audit witness` from the command line: keys, arguments, no traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from app.cli.witness import _load_key


def witness(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run the command with no database configured: a member's machine has none."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["FLAGBRIDGE_DATA_DIR"] = str(cwd / "no-data")
    return subprocess.run(
        [sys.executable, "-m", "app.cli.main", "audit", "witness", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
    )


def test_generate_key_writes_a_private_p256_key_once(tmp_path):
    res = witness("--generate-key", "w.pem", "--json", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["jwk"]["crv"] == "P-256" and "d" not in out["jwk"]
    assert (tmp_path / "w.pem").stat().st_mode & 0o777 == 0o600
    assert _load_key(tmp_path / "w.pem") is not None
    again = witness("--generate-key", "w.pem", cwd=tmp_path)
    assert again.returncode == 2 and "cannot create" in again.stderr
    assert not (tmp_path / "no-data").exists()  # needs no database


def test_missing_arguments_bad_key_and_unreachable_service_are_exit_2(tmp_path):
    res = witness("--url", "http://127.0.0.1:9", cwd=tmp_path)
    assert res.returncode == 2 and "--client-id" in res.stderr and "--state" in res.stderr
    (tmp_path / "bad.pem").write_text("not a key")
    common = ["--url", "http://127.0.0.1:9", "--client-id", "c", "--client-secret", "s"]
    res = witness(*common, "--key", "bad.pem", "--state", "s.json", cwd=tmp_path)
    assert res.returncode == 2 and "cannot read the witness key" in res.stderr
    witness("--generate-key", "w.pem", cwd=tmp_path)
    res = witness(*common, "--key", "w.pem", "--state", "s.json", cwd=tmp_path)
    assert res.returncode == 2, res.stderr
    for result in (res,):
        assert "Traceback" not in result.stderr
    assert not (tmp_path / "s.json").exists()
