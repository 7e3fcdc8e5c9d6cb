"""One data folder: the CLI finds the server's data from any working directory, and never
creates a second, empty database by accident."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_elsewhere(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Run a Python or CLI command from cwd, with no database or data folder configured."""
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "FLAGBRIDGE_DATABASE_URL", "FLAGBRIDGE_DATA_DIR")
        and not k.startswith("FLAGBRIDGE_KEYS")
    }
    return subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        env={**clean, **env},
        cwd=cwd,
        timeout=120,
    )


SHOW_DATA_DIR = ["-c", "from app.config import Settings; print(Settings().data_dir)"]


def test_the_checkout_s_var_is_found_from_any_working_directory(tmp_path):
    res = run_elsewhere(SHOW_DATA_DIR, tmp_path)
    assert res.returncode == 0, res.stderr
    assert Path(res.stdout.strip()) == ROOT / "var"


def test_flagbridge_data_dir_always_wins(tmp_path):
    res = run_elsewhere(SHOW_DATA_DIR, tmp_path, FLAGBRIDGE_DATA_DIR=str(tmp_path / "mine"))
    assert Path(res.stdout.strip()) == tmp_path / "mine"


@pytest.mark.parametrize(
    "command",
    [
        ["audit", "verify"],
        ["audit", "archive", "--month", "2026-01", "--out", "x.jsonl"],
        ["client", "list"],
        ["org", "list"],
        ["stats", "fold"],
    ],
)
def test_a_command_that_finds_no_database_refuses_to_create_one(tmp_path, command):
    empty = tmp_path / "empty"
    res = run_elsewhere(["-m", "app.cli.main", *command], tmp_path, FLAGBRIDGE_DATA_DIR=str(empty))
    assert res.returncode == 2, res.stdout + res.stderr
    assert str(empty.resolve() / "pg") in res.stderr
    assert "flagbridge migrate" in res.stderr and "Traceback" not in res.stderr
    assert not empty.exists()  # no server started, no key made


def test_keys_work_on_the_key_folder_without_a_database(tmp_path):
    keys = tmp_path / "keys"
    res = run_elsewhere(
        ["-m", "app.cli.main", "keys", "rotate", "--json"],
        tmp_path,
        FLAGBRIDGE_DATA_DIR=str(tmp_path / "empty"),
        FLAGBRIDGE_KEYS_DIR=str(keys),
    )
    assert res.returncode == 0, res.stderr
    assert not (tmp_path / "empty" / "pg").exists() and list(keys.glob("*.pem"))
