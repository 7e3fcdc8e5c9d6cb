"""Percentiles from the response-time histograms.

The rollup keeps, per day and month, how many flags took a duration in each bucket:
bucket 0 is [0 s, 1 s) and bucket b >= 1 is [2^((b-1)/8) s, 2^(b/8) s): eight buckets per
doubling, so 1 s to a year fits in about 200 buckets. (`fb_stats_bucket` in migration
0007_stats computes the same thing in SQL.)

The median and 90th percentile are nearest-rank: the k-th smallest of n values, with
k = ceil(p * n). The histogram tells exactly which bucket the k-th value is in; inside the
bucket the value is interpolated linearly by rank. Both the true value and the estimate
lie in that bucket, so the error is less than the bucket's width:
under 2^(1/8) - 1 (about 9.05%) of the true value for durations of a second or more, and
under one second below that. Answers are rounded to 0.1 s.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from fractions import Fraction

BUCKETS_PER_DOUBLING = 8
MAX_BUCKET = 255
RELATIVE_ERROR = 2 ** (1 / BUCKETS_PER_DOUBLING) - 1
MEDIAN = Fraction(1, 2)
P90 = Fraction(9, 10)


def bucket_of(seconds: float) -> int:
    """The bucket of a duration (the same as fb_stats_bucket in SQL)."""
    if seconds < 1:
        return 0
    return min(1 + math.floor(BUCKETS_PER_DOUBLING * math.log(seconds) / math.log(2)), MAX_BUCKET)


def bucket_bounds(bucket: int) -> tuple[float, float]:
    """The durations [low, high) in seconds that a bucket holds."""
    if bucket <= 0:
        return 0.0, 1.0
    return (
        2 ** ((bucket - 1) / BUCKETS_PER_DOUBLING),
        2 ** (bucket / BUCKETS_PER_DOUBLING),
    )


def nearest_rank(n: int, p: Fraction) -> int:
    """The 1-based rank of the p-th percentile among n values: ceil(p * n), at least 1."""
    return max(1, math.ceil(p * n))


def percentile(histogram: Mapping[int, int], p: Fraction) -> float | None:
    """The p-th percentile (nearest rank, interpolated in its bucket), or None if empty."""
    n = sum(c for c in histogram.values() if c > 0)
    if n == 0:
        return None
    rank = nearest_rank(n, p)
    below = 0
    for bucket in sorted(histogram):
        count = histogram[bucket]
        if count <= 0:
            continue
        if below + count >= rank:
            low, high = bucket_bounds(bucket)
            return round(low + (high - low) * (rank - below - 0.5) / count, 1)
        below += count
    raise AssertionError("unreachable: rank is at most n")


def summary(histogram: Mapping[int, int]) -> dict[str, float | int | None]:
    """count, median_seconds and p90_seconds of a histogram."""
    return {
        "count": sum(c for c in histogram.values() if c > 0),
        "median_seconds": percentile(histogram, MEDIAN),
        "p90_seconds": percentile(histogram, P90),
    }
