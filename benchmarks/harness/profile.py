"""Sampling profiles of a server under test with py-spy (`run.py --profile`).

py-spy is not a dependency of the project: `.venv/bin/pip install py-spy`. It attaches to
the running server (ptrace: root, or kernel.yama.ptrace_scope 0) and writes collapsed
stacks, which `top_frames` reduces to the functions where the samples were taken.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from benchmarks.harness.database import DATA_DIR

PROFILES = DATA_DIR / "profiles"


def py_spy() -> str | None:
    """py-spy's path: next to this interpreter (the venv) or on PATH."""
    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.exists() else shutil.which("py-spy")


@contextlib.contextmanager
def recording(pid: int | None, name: str) -> Iterator[Path | None]:
    """Sample process `pid` (and its workers) while the block runs; None when not profiling."""
    exe = py_spy() if pid is not None else None
    if exe is None:
        yield None
        return
    PROFILES.mkdir(parents=True, exist_ok=True)
    out = PROFILES / f"{name}.txt"
    proc = subprocess.Popen(  # noqa: S603 - fixed argv: py-spy on a process we started
        [exe, "record", "--pid", str(pid), "--subprocesses", "--format", "raw", "--rate", "200",
         "--nonblocking", "--output", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        yield out
    finally:
        proc.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def _function(frame: str) -> tuple[str, bool]:
    """'fn (app/x/y.py:12)' -> ('fn (app/x/y.py)', True): per function, not per line;
    True for the project's own code (app/)."""
    name, _, where = frame.partition(" (")
    file = where.rsplit(":", 1)[0]
    # py-spy shortens paths to the import root: the project's own code is app/...
    ours = file.startswith("app/")
    file = file if ours else file.rsplit("/", 1)[-1]
    return (f"{name} ({file})" if file else name), ours


def top_frames(path: Path, n: int = 12) -> dict[str, Any]:
    """The `n` functions with most samples: on top of the stack (self, any code) and
    anywhere in it (app: the project's own functions, callees included).

    Shares are of all samples taken while the server was busy (py-spy leaves idle out).
    """
    own: Counter[str] = Counter()
    app: Counter[str] = Counter()
    samples = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        hits = int(count)
        samples += hits
        frames = [_function(f) for f in stack.split(";")]
        own[frames[-1][0]] += hits
        for name in {name for name, ours in frames if ours}:
            app[name] += hits
    if not samples:
        return {"self": [], "app": []}

    def share(counter: Counter[str]) -> list[tuple[str, float]]:
        return [(name, round(hits / samples, 3)) for name, hits in counter.most_common(n)]

    return {"samples": samples, "self": share(own), "app": share(app)}
