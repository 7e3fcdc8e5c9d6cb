"""No merge-conflict markers left in any tracked text file (one once sat in the README)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MARKER = re.compile(r"^(<<<<<<< |>>>>>>> |=======$)", re.MULTILINE)


def test_no_tracked_file_holds_a_conflict_marker():
    files = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.split(b"\0")
    hits = []
    for name in filter(None, files):
        path = ROOT / name.decode()
        if not path.is_file() or path.suffix in {".png", ".mo"}:
            continue
        text = path.read_bytes().decode("utf-8", errors="ignore")
        hits += [f"{name.decode()}: {m.group(0)!r}" for m in MARKER.finditer(text)]
    assert len(files) > 100
    assert hits == []
