"""Coarse-to-fine correlation (xcorr.py) finds exactly what the full-rate search finds."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from autortc.metrics.xcorr import best_lag, best_offset

SR = 48_000


def _speechy(n: int, rng: np.random.Generator) -> np.ndarray:
    """Band-limited noise with a syllable-rate envelope (a voice's broad shape)."""
    b, a = signal.butter(4, [100, 3800], btype="band", fs=SR)
    x = signal.lfilter(b, a, rng.standard_normal(n))
    env = 0.5 + 0.5 * np.sin(2 * np.pi * 4 * np.arange(n) / SR) ** 2
    return x * env / np.max(np.abs(x))


def _full_offset(hay: np.ndarray, needle: np.ndarray) -> int:
    corr = signal.correlate(hay, needle, mode="valid", method="fft")
    e = np.concatenate([[0.0], np.cumsum(hay**2)])
    local = e[len(needle) :] - e[: len(hay) - len(needle) + 1]
    return int(np.argmax(corr / np.sqrt(np.maximum(local, 1e-12) * np.sum(needle**2))))


@pytest.mark.parametrize("seed", range(6))
def test_best_offset_matches_the_full_rate_search(seed: int) -> None:
    rng = np.random.default_rng(seed)
    hay = _speechy(8 * SR, rng) * 0.3
    needle = _speechy(SR, rng)
    at = int(rng.integers(0, len(hay) - SR))
    # the needle as received: a little quieter, filtered (a codec), with noise
    b, a = signal.butter(2, 7000, fs=SR)
    hay[at : at + SR] += 0.8 * signal.lfilter(b, a, needle)
    hay += 0.01 * rng.standard_normal(len(hay))
    found = best_offset(hay, needle)
    assert found is not None
    assert found[0] == _full_offset(hay, needle)
    assert abs(found[0] - at) <= 2
    assert found[1] > 0.9


def test_best_offset_short_inputs_and_too_long_needles() -> None:
    assert best_offset(np.ones(10), np.ones(20)) is None
    assert best_offset(np.r_[np.zeros(5), [1.0, -1.0], np.zeros(5)], np.array([1.0, -1.0]))[0] == 5


@pytest.mark.parametrize(("seed", "lag"), [(0, 0), (1, 37), (2, -480), (3, 4801), (4, -11)])
def test_best_lag_matches_the_full_rate_search(seed: int, lag: int) -> None:
    rng = np.random.default_rng(seed)
    ref = _speechy(3 * SR, rng)
    sig = np.zeros(len(ref))
    n0, n1 = max(lag, 0), min(len(sig), len(ref) + lag)
    sig[n0:n1] = 0.7 * ref[n0 - lag : n1 - lag]  # sig[n] = 0.7 ref[n - lag]
    sig += 0.005 * rng.standard_normal(len(sig))
    corr = signal.correlate(sig, ref, mode="full", method="fft")
    lags = signal.correlation_lags(len(sig), len(ref), mode="full")
    keep = np.abs(lags) <= SR
    assert best_lag(ref, sig, max_lag=SR) == int(lags[keep][np.argmax(corr[keep])]) == lag
