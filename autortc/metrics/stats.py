"""The one percentile convention of AutoRTC (pure).

Every P95, median and percentile in AutoRTC goes through here: numpy's "linear"
method (Hyndman-Fan type 7, the default of numpy, pandas and R). None and
non-finite values are dropped first.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final, Literal

import numpy as np

PERCENTILE_METHOD: Final[Literal["linear"]] = "linear"


def finite(values: Iterable[float | int | None]) -> list[float]:
    """The values that are numbers, as floats (None, NaN and inf dropped)."""
    return [float(v) for v in values if v is not None and np.isfinite(v)]


def percentile(values: Iterable[float | int | None], q: float) -> float | None:
    """The q-th percentile (0..100) of the finite values; None when there are none."""
    v = finite(values)
    return float(np.percentile(v, q, method=PERCENTILE_METHOD)) if v else None


def p95(values: Iterable[float | int | None]) -> float | None:
    return percentile(values, 95.0)


def median(values: Iterable[float | int | None]) -> float | None:
    return percentile(values, 50.0)


def describe(
    values: Iterable[float | int | None],
) -> tuple[int, float | None, float | None, float | None]:
    """(n, median, P95, sigma) of the finite values; sigma is the sample deviation
    (ddof=1), 0.0 for a single value."""
    v = np.asarray(finite(values), dtype=np.float64)
    if v.size == 0:
        return 0, None, None, None
    sigma = float(np.std(v, ddof=1)) if v.size > 1 else 0.0
    return int(v.size), median(v.tolist()), p95(v.tolist()), sigma
