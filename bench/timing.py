"""Timing for the latency benchmarks: the median and p90 of repeated calls after warm-up, in ms."""

from __future__ import annotations

import statistics
import time


def median_and_p90_ms(fn, repeats: int, warmup: int = 3) -> tuple[float, float]:
    """Calls `fn` `warmup` times untimed, then `repeats` times timed: (median, p90) in milliseconds."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    times.sort()
    return statistics.median(times) * 1000, times[min(len(times) - 1, int(0.9 * len(times)))] * 1000
