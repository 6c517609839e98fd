"""Frame levels: RMS on 10 ms frames, silent / audible masks, runs.

Definitions (docs/spec/measurement.md, Ring 0):
- a frame is 10 ms (480 samples at 48 kHz); the last partial frame is zero-padded;
- RMS is on a linear full scale of 1.0;
- a frame is *silent* when RMS < 0.005 and *audible* when RMS >= 0.01
  (frames in between are neither: they break silent runs and audible runs alike).

Also the sample-level onset / offset refinement shared by Ring 2 and the
speed-drift fingerprint (see `refine_onset` for the rule).
"""

from __future__ import annotations

import numpy as np

FRAME_MS = 10
SILENT_RMS = 0.005
AUDIBLE_RMS = 0.01
# onset / offset refinement: first sample with |x| >= max(ONSET_FLOOR, ONSET_REL * frame peak)
ONSET_FLOOR = 0.01
ONSET_REL = 0.25


def samples_per_frame(sample_rate_hz: int) -> int:
    return sample_rate_hz * FRAME_MS // 1000


def frame_rms(x: np.ndarray, sample_rate_hz: int) -> np.ndarray:
    """RMS of each 10 ms frame of `x` (last frame zero-padded). float64, len ceil(n/spf)."""
    spf = samples_per_frame(sample_rate_hz)
    a = np.asarray(x, dtype=np.float64)
    n_frames = -(-len(a) // spf)
    if n_frames == 0:
        return np.zeros(0, dtype=np.float64)
    full = len(a) // spf
    sums = np.empty(n_frames, dtype=np.float64)
    sums[:full] = np.einsum(
        "ij,ij->i", a[: full * spf].reshape(full, spf), a[: full * spf].reshape(full, spf)
    )
    if full < n_frames:  # the last, short frame: zero-padded, so its sum is over what is there
        tail = a[full * spf :]
        sums[full] = float(np.dot(tail, tail))
    return np.asarray(np.sqrt(sums / spf))


def rms(x: np.ndarray) -> float:
    """RMS of a whole signal; 0.0 for an empty one."""
    a = np.asarray(x, dtype=np.float64)
    return float(np.sqrt(np.mean(a * a))) if len(a) else 0.0


def silent_mask(rms_frames: np.ndarray) -> np.ndarray:
    return np.asarray(rms_frames) < SILENT_RMS


def audible_mask(rms_frames: np.ndarray) -> np.ndarray:
    return np.asarray(rms_frames) >= AUDIBLE_RMS


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Runs of True in a boolean mask as half-open (start, end) index pairs."""
    m = np.asarray(mask, dtype=bool)
    if m.size == 0:
        return []
    d = np.diff(np.concatenate(([0], m.astype(np.int8), [0])))
    starts = np.flatnonzero(d == 1)
    ends = np.flatnonzero(d == -1)
    return [(int(s), int(e)) for s, e in zip(starts, ends, strict=True)]


def longest_run(mask: np.ndarray) -> int:
    """Length of the longest run of True (0 if none)."""
    r = runs(mask)
    return max((e - s for s, e in r), default=0)


def first_true(mask: np.ndarray, *, start: int = 0) -> int | None:
    m = np.asarray(mask, dtype=bool)[max(start, 0) :]
    idx = np.flatnonzero(m)
    return int(idx[0]) + max(start, 0) if idx.size else None


def onset_threshold(frame: np.ndarray) -> float:
    peak = float(np.max(np.abs(frame))) if len(frame) else 0.0
    return max(ONSET_FLOOR, ONSET_REL * peak)


def refine_onset(x: np.ndarray, frame_index: int, *, sample_rate_hz: int, lower: int = 0) -> int:
    """Sample index of the onset whose first audible frame is `frame_index`.

    Rule: threshold = max(0.01, 0.25 x peak |x| of that audible frame); the onset is the
    first sample with |x| >= threshold searched from the start of the *previous* frame
    (a sound starting late in a frame may leave that frame below the audible RMS) but
    never before `lower`. For a sine starting at phase 0 the crossing lags the true
    start by asin(0.25)/(2 pi f): 2 samples (0.04 ms) at 1 kHz, 48 kHz.
    """
    spf = samples_per_frame(sample_rate_hz)
    a = np.asarray(x)
    f0 = frame_index * spf
    thr = onset_threshold(a[f0 : f0 + spf])
    lo = max(f0 - spf, lower, 0)
    hi = min(f0 + spf, len(a))
    hits = np.flatnonzero(np.abs(a[lo:hi]) >= thr)
    return lo + int(hits[0]) if hits.size else f0


def refine_offset(
    x: np.ndarray, frame_index: int, *, sample_rate_hz: int, upper: int | None = None
) -> int:
    """Sample index of the last sample of a sound whose last audible frame is `frame_index`.

    Mirror of `refine_onset`: the last sample with |x| >= threshold searched up to the end
    of the *next* frame (never at or past `upper`).
    """
    spf = samples_per_frame(sample_rate_hz)
    a = np.asarray(x)
    f0 = frame_index * spf
    thr = onset_threshold(a[f0 : f0 + spf])
    hi = min(f0 + 2 * spf, len(a), upper if upper is not None else len(a))
    lo = f0
    hits = np.flatnonzero(np.abs(a[lo:hi]) >= thr)
    return lo + int(hits[-1]) if hits.size else min(f0 + spf, len(a)) - 1
