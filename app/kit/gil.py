"""How long a thread may keep the GIL while the event loop waits for it.

The server's background work runs in threads beside the event loop: audit sealing hashes
the entries written since its last run, argon2 verifies client secrets, verification
re-hashes the chain. While such a thread computes in Python, the event loop waits for the
GIL up to the interpreter's switch interval (5 ms by default) each time it wants it back,
and one request wants it back several times. Measured with `make bench` (2026-11-30,
benchmarks/README.md): a re-read feed page of 500 took p50 31 ms, p99 64 ms while the
sealer hashed the 30,000 audit entries the batches had just written; at 0.5 ms it took
p50 14 ms, p99 17 ms, as it does with sealing off (15 ms, 17.5 ms).
"""

from __future__ import annotations

import sys


def set_switch_interval(milliseconds: float) -> float:
    """Let a computing thread keep the GIL at most this long; returns the interval set (s)."""
    sys.setswitchinterval(milliseconds / 1000)
    return sys.getswitchinterval()
