"""When a sample the user bot sent arrived at a listener (pure).

The listener (the probe, or an agent that records what it heard) keeps the user
track with each 10 ms frame's receive time. The last `WINDOW_S` of speech before the
sample is found in that recording by normalised cross-correlation, coarse to fine
(xcorr.py; a codec changes the waveform, not its shape), and the sample's time follows
the one sample -> time convention (`slicing.samples_to_time_ns`). A match below `MIN_MATCH` (the audio was
lost, or never recorded) gives None, never a guess.
"""

from __future__ import annotations

import numpy as np

from autortc.metrics import levels, xcorr
from autortc.metrics.slicing import samples_to_time_ns

WINDOW_S = 1.0
MIN_MATCH = 0.5  # normalised correlation of the best match
SILENT_RMS = 1e-4  # -80 dBFS: a window this quiet has nothing to be recognised by (the
# match is normalised, so a quiet caller, -40 dBFS say, is found as well as a loud one)


def locate(
    sent: np.ndarray, sample_in_sent: int, received: np.ndarray, *, sample_rate_hz: int
) -> int | None:
    """Index in `received` of `sent[sample_in_sent]`, or None when not found."""
    w0 = max(0, sample_in_sent - round(WINDOW_S * sample_rate_hz))
    window = np.asarray(sent[w0:sample_in_sent], dtype=np.float64)
    rec = np.asarray(received, dtype=np.float64)
    if len(window) == 0 or len(rec) < len(window):
        return None
    if float(np.sqrt(np.mean(window**2))) < SILENT_RMS:
        return None  # nothing to recognise it by
    found = xcorr.best_offset(rec, window)
    if found is None or found[1] < MIN_MATCH:
        return None
    k = found[0]
    return k + (sample_in_sent - w0)


def arrival_t_ns(
    sent: np.ndarray,
    sample_in_sent: int,
    received: np.ndarray,
    recv_t_ns: np.ndarray,
    *,
    sample_rate_hz: int,
) -> int | None:
    """When `sent[sample_in_sent]` arrived at the listener, on its clock; None when it
    was not found or its frame was not recorded."""
    idx = locate(sent, sample_in_sent, received, sample_rate_hz=sample_rate_hz)
    spf = levels.samples_per_frame(sample_rate_hz)
    if idx is None or idx // spf >= len(recv_t_ns):
        return None
    t = samples_to_time_ns(np.array([idx]), np.asarray(recv_t_ns), sample_rate_hz=sample_rate_hz)
    return round(float(t[0]))
