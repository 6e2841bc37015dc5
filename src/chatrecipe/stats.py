"""The intervals every measurement shares, so a figure means the same thing in every table of the report.

A figure is a dict `{"value", "ci_low", "ci_high", "n"}`: proportions carry a Wilson score interval (sound at small n
and near 0 or 1, where the normal approximation gives intervals outside [0, 1]); means carry a normal interval from
the standard error. Small samples are the norm here (a demo judges a few dozen answers), and the interval is what
keeps a two-item difference from reading as a verdict.
"""

from __future__ import annotations

import math
from typing import Sequence

Z95 = 1.96


def wilson_bounds(successes: float, n: int, z: float = Z95) -> tuple[float | None, float | None, float | None]:
    """(proportion, low, high) of `successes` out of `n` with the Wilson score interval; Nones when n is 0."""
    if n == 0:
        return None, None, None
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return p, max(0.0, centre - half), min(1.0, centre + half)


def wilson(successes: float, n: int, z: float = Z95) -> dict:
    """A proportion as a figure dict, with its Wilson interval."""
    value, low, high = wilson_bounds(successes, n, z)
    return {"value": value, "ci_low": low, "ci_high": high, "n": n}


def mean_interval(values: Sequence[float], z: float = Z95) -> tuple[float | None, float | None]:
    """Normal interval of a mean from the sample standard error; Nones (JSON null, never NaN) with fewer than two
    values."""
    n = len(values)
    if n < 2:
        return None, None
    mean = math.fsum(values) / n
    sd = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1))
    half = z * sd / math.sqrt(n)
    return mean - half, mean + half


def normal_interval(value: float, stderr: float | None, z: float = Z95) -> dict:
    """`{"ci_low", "ci_high"}` around a value reported with a standard error (lm-eval's), or {} without one."""
    if not isinstance(stderr, (int, float)) or math.isnan(stderr):
        return {}
    return {"ci_low": value - z * stderr, "ci_high": value + z * stderr}
