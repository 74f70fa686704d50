"""Latency percentiles for the load reports.

Nearest-rank percentiles: the p-th percentile is the smallest sample such that at least p% of
the samples are at or below it. Every number reported was therefore actually observed, which
matters for tails: with 150 samples, p99 is the second-worst sample rather than a value
interpolated between two samples that no command ever saw.
"""

from __future__ import annotations

import math
from typing import Iterable, Sequence

REPORTED = (("p50", 50.0), ("p95", 95.0), ("p99", 99.0), ("max", 100.0))


def percentile(ordered: Sequence[float], p: float) -> float:
    """The nearest-rank `p`-th percentile of already sorted samples.

    Raises:
        ValueError: no samples, or `p` outside (0, 100].
    """
    if not ordered:
        raise ValueError("no samples")
    if not 0 < p <= 100:
        raise ValueError(f"percentile must be in (0, 100], got {p}")
    rank = math.ceil(p / 100 * len(ordered))
    return ordered[rank - 1]


def summary_ms(seconds: Iterable[float]) -> dict[str, float | None]:
    """p50, p95, p99 and max of durations given in seconds, reported in milliseconds
    (rounded to microseconds); all None when there are no samples."""
    ordered = sorted(seconds)
    if not ordered:
        return {name: None for name, _ in REPORTED}
    return {name: round(percentile(ordered, p) * 1000, 3) for name, p in REPORTED}
