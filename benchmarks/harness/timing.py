"""Sequential timings: percentiles of a list of samples, and a timed call."""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def percentile(samples: list[float], pct: float) -> float:
    """The nearest-rank percentile (pct in 0..100) of non-empty samples."""
    ordered = sorted(samples)
    rank = max(0, min(len(ordered) - 1, math.ceil(pct / 100 * len(ordered)) - 1))
    return ordered[rank]


def latency_summary(samples_ms: list[float]) -> dict[str, Any]:
    """p50, p99, max and count of millisecond samples, rounded for the JSON."""
    return {
        "count": len(samples_ms),
        "p50_ms": round(statistics.median(samples_ms), 2),
        "p99_ms": round(percentile(samples_ms, 99), 2),
        "max_ms": round(max(samples_ms), 2),
    }


def timed(call: Callable[[], T]) -> tuple[T, float]:
    """call()'s result and how long it took, in milliseconds."""
    started = time.perf_counter()
    result = call()
    return result, (time.perf_counter() - started) * 1000
