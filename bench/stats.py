"""What the benchmarks report of their timings."""

from __future__ import annotations

import statistics


def percentile(values: list[float], fraction: float) -> float:
    """The `fraction` quantile of `values` (0.5 the median, 0.95 the p95), interpolated between
    the two nearest values (`statistics.quantiles`' inclusive method)."""
    if len(values) == 1:
        return values[0]
    cuts = statistics.quantiles(values, n=1000, method="inclusive")
    return cuts[round(fraction * 1000) - 1]
