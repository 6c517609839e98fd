"""Alignment of the agent's pre-network audio with the probe's reply slice.

`find_lag` cross-correlates (coarse to fine, xcorr.py) and returns the integer lag L (samples) such that
`sig[n] ~= ref[n - L]`: a positive L means `sig` is `ref` delayed by L samples.
The search is limited to |L| <= max_lag (default 1 s). Integer resolution: exact to
+-1 sample on broadband signals.
"""

from __future__ import annotations

import numpy as np

from autortc.metrics import xcorr

MAX_LAG_S = 1.0


def find_lag(
    ref: np.ndarray, sig: np.ndarray, *, sample_rate_hz: int, max_lag_s: float = MAX_LAG_S
) -> int | None:
    """Lag of `sig` relative to `ref` in samples, or None when either is empty or all zeros."""
    a = np.asarray(ref, dtype=np.float64)
    b = np.asarray(sig, dtype=np.float64)
    if a.size == 0 or b.size == 0 or not np.any(a) or not np.any(b):
        return None
    return xcorr.best_lag(a, b, max_lag=round(max_lag_s * sample_rate_hz))


def aligned_pair(ref: np.ndarray, sig: np.ndarray, lag: int) -> tuple[np.ndarray, np.ndarray, int]:
    """`ref` shifted by `lag` onto `sig`'s sample axis, zero where it has no samples.

    Returns (ref_on_sig_axis, sig, lag): both arrays have len(sig).
    """
    b = np.asarray(sig)
    a = np.asarray(ref)
    out = np.zeros(len(b), dtype=np.float64)
    # out[n] = a[n - lag]
    n0 = max(lag, 0)
    n1 = min(len(b), len(a) + lag)
    if n1 > n0:
        out[n0:n1] = a[n0 - lag : n1 - lag]
    return out, b, lag
