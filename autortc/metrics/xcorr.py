"""Cross-correlation, coarse to fine (pure): the analysis's CPU budget (issue 12: at most
50 ms per case) does not allow full-rate FFT correlations over a whole recording.

1. Coarse: both signals are averaged over blocks of `decim` samples (48 kHz -> 8 kHz
   for decim 6; a boxcar keeps the speech band that carries the shape) and correlated
   by FFT at that rate: `decim` times shorter transforms.
2. Fine: around each of the `candidates` best coarse peaks, the exact full-rate score
   is computed directly over +-`refine` samples (`np.correlate`, a few million
   multiply-adds), and the best full-rate position wins.

The result is the full-rate argmax whenever the true peak is among the coarse
candidates, which the known-answer tests check against the direct computation.
"""

from __future__ import annotations

import numpy as np
from scipy import signal

DECIM = 12
REFINE = DECIM + 4  # fine search half-width, samples (the coarse peak is +-DECIM/2)
CANDIDATES = 2


def _blocks(x: np.ndarray, decim: int) -> np.ndarray:
    n = len(x) // decim * decim
    return np.asarray(x[:n].reshape(-1, decim).mean(axis=1))


def _peaks(score: np.ndarray, n: int, min_sep: int) -> list[int]:
    """Indices of the `n` highest values at least `min_sep` apart."""
    order = np.argsort(score)[::-1]
    out: list[int] = []
    for k in order:
        if all(abs(int(k) - j) >= min_sep for j in out):
            out.append(int(k))
            if len(out) == n:
                break
    return out


def _normalized_valid(hay: np.ndarray, needle: np.ndarray) -> np.ndarray:
    """Normalised correlation of `needle` at every valid offset of `hay` (FFT)."""
    corr = signal.correlate(hay, needle, mode="valid", method="fft")
    energy = np.concatenate([[0.0], np.cumsum(hay**2)])
    local = energy[len(needle) :] - energy[: len(hay) - len(needle) + 1]
    norm = np.sqrt(np.maximum(local, 1e-12) * float(np.sum(needle**2)))
    return np.asarray(corr / norm)


def best_offset(
    hay: np.ndarray, needle: np.ndarray, *, decim: int = DECIM
) -> tuple[int, float] | None:
    """(offset, normalised score) of `needle` in `hay`: the k maximising
    <hay[k:k+m], needle> / (|hay[k:k+m]| |needle|). None when `hay` is shorter."""
    hay = np.asarray(hay, dtype=np.float64)
    needle = np.asarray(needle, dtype=np.float64)
    m = len(needle)
    if m == 0 or len(hay) < m:
        return None
    if m < 8 * decim or len(hay) < 8 * decim:
        score = _normalized_valid(hay, needle)
        k = int(np.argmax(score))
        return k, float(score[k])
    coarse = _normalized_valid(_blocks(hay, decim), _blocks(needle, decim))
    best: tuple[int, float] | None = None
    needle_norm = float(np.sqrt(np.sum(needle**2)))
    for kc in _peaks(coarse, CANDIDATES, 2):
        lo = max(0, kc * decim - REFINE)
        hi = min(len(hay) - m, kc * decim + REFINE)
        if hi < lo:
            continue
        seg = hay[lo : hi + m]
        corr = np.correlate(seg, needle, mode="valid")
        energy = np.concatenate([[0.0], np.cumsum(seg**2)])
        local = np.sqrt(np.maximum(energy[m:] - energy[: len(seg) - m + 1], 1e-12))
        score = corr / (local * max(needle_norm, 1e-12))
        j = int(np.argmax(score))
        if best is None or score[j] > best[1]:
            best = (lo + j, float(score[j]))
    return best


def best_lag(ref: np.ndarray, sig: np.ndarray, *, max_lag: int, decim: int = DECIM) -> int | None:
    """The lag L in [-max_lag, max_lag] maximising sum_n sig[n] ref[n - L] (raw, not
    normalised: `align.find_lag`'s definition)."""
    a = np.asarray(ref, dtype=np.float64)
    b = np.asarray(sig, dtype=np.float64)

    def direct(lags: np.ndarray) -> np.ndarray:
        out = np.empty(len(lags))
        for i, lag in enumerate(lags):
            lag = int(lag)
            n0, n1 = max(lag, 0), min(len(b), len(a) + lag)
            out[i] = float(np.dot(b[n0:n1], a[n0 - lag : n1 - lag])) if n1 > n0 else 0.0
        return out

    if min(len(a), len(b)) < 8 * decim:
        corr = signal.correlate(b, a, mode="full", method="fft")
        lags = signal.correlation_lags(len(b), len(a), mode="full")
        keep = np.abs(lags) <= max_lag
        return int(lags[keep][int(np.argmax(corr[keep]))]) if np.any(keep) else None
    ac, bc = _blocks(a, decim), _blocks(b, decim)
    corr = signal.correlate(bc, ac, mode="full", method="fft")
    lags = signal.correlation_lags(len(bc), len(ac), mode="full")
    keep = np.abs(lags) <= max_lag // decim + 1
    if not np.any(keep):
        return None
    c, lk = corr[keep], lags[keep]
    best_l, best_v = None, -np.inf
    for i in _peaks(c, CANDIDATES, 2):
        centre = int(lk[i]) * decim
        fine = np.arange(max(-max_lag, centre - decim), min(max_lag, centre + decim) + 1)
        if not len(fine):
            continue
        v = direct(fine)
        j = int(np.argmax(v))
        if v[j] > best_v:
            best_l, best_v = int(fine[j]), float(v[j])
    return best_l
