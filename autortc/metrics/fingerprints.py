"""P1 fingerprints: WARN-level signals, never FAIL (docs/spec/measurement.md).

- boom, on the INPUT wav (what the user bot played), not on the agent's output:
  a spike sample has |x| > 0.5 and |x| > 8 x the RMS of its 10 ms neighbourhood
  (+-5 ms) excluding a +-0.5 ms core around it (so a click up to ~1 ms long does not
  mask itself). Spike samples closer than 10 ms to each other are one spike.
  `input_spike_count` counts spikes, `input_max_abs_peak` is max |x| of the input.
- speed drift: drift_ratio = speech duration in post / in pre. Speech duration is the
  span from the refined onset of the first audible frame to the refined offset of the
  last audible frame (sample resolution, so a 1 % change of a 1 s reply, 10 ms, is
  well resolved); the transport's added silence (`added_gap_total_ms`) is taken out
  when that brings the ratio closer to 1 (it was inserted, not put in place of audio).
  |1 - r| > warn threshold (default 2 %) warns.
- distortion: hf_ratio_drop above its warn threshold (default 0.5).
"""

from __future__ import annotations

import numpy as np

from autortc.metrics import levels

SPIKE_MIN_ABS = 0.5
SPIKE_RATIO = 8.0
NEIGHBOURHOOD_MS = 5.0  # each side
CORE_MS = 0.5  # each side, excluded


def detect_spikes(x: np.ndarray, *, sample_rate_hz: int) -> tuple[int, float]:
    """(spike count, max |x|) of the input audio."""
    a = np.asarray(x, dtype=np.float64)
    if a.size == 0:
        return 0, 0.0
    peak = float(np.max(np.abs(a)))
    cand = np.flatnonzero(np.abs(a) > SPIKE_MIN_ABS)
    if cand.size == 0:
        return 0, peak
    w = round(NEIGHBOURHOOD_MS * sample_rate_hz / 1000)
    c = round(CORE_MS * sample_rate_hz / 1000)
    cs = np.concatenate([[0.0], np.cumsum(a * a)])
    n = len(a)

    def window(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        lo = np.clip(lo, 0, n)
        hi = np.clip(hi, 0, n)
        return cs[hi] - cs[lo], (hi - lo).astype(np.float64)

    e_all, n_all = window(cand - w, cand + w + 1)
    e_core, n_core = window(cand - c, cand + c + 1)
    cnt = np.maximum(n_all - n_core, 1.0)
    local_rms = np.sqrt(np.maximum(e_all - e_core, 0.0) / cnt)
    hits = cand[np.abs(a[cand]) > SPIKE_RATIO * local_rms]
    if hits.size == 0:
        return 0, peak
    gap = levels.samples_per_frame(sample_rate_hz)
    count = 1 + int(np.count_nonzero(np.diff(hits) > gap))
    return count, peak


def speech_span_samples(x: np.ndarray, *, sample_rate_hz: int) -> int | None:
    """Refined first-onset to last-offset span of the audible frames, in samples."""
    fr = levels.frame_rms(x, sample_rate_hz)
    aud = np.flatnonzero(levels.audible_mask(fr))
    if aud.size == 0:
        return None
    on = levels.refine_onset(x, int(aud[0]), sample_rate_hz=sample_rate_hz)
    off = levels.refine_offset(x, int(aud[-1]), sample_rate_hz=sample_rate_hz)
    return off - on + 1 if off >= on else None


def drift_ratio(
    pre_reply: np.ndarray,
    post_slice: np.ndarray,
    *,
    sample_rate_hz: int,
    added_gap_total_ms: float | None = None,
) -> float | None:
    """Reply speech duration in post / in pre.

    Silence the transport added (`added_gap_total_ms`) may have been inserted (a late
    packet: post grew) or may have replaced audio (a lost one: post did not grow), so
    both ratios are formed, with and without it, and the one closer to 1 is the drift:
    a real speed change moves both.
    """
    pre_span = speech_span_samples(pre_reply, sample_rate_hz=sample_rate_hz)
    post_span = speech_span_samples(post_slice, sample_rate_hz=sample_rate_hz)
    if not pre_span or not post_span:
        return None
    raw = post_span / pre_span
    inserted = (post_span / sample_rate_hz - (added_gap_total_ms or 0.0) / 1000.0) / (
        pre_span / sample_rate_hz
    )
    return raw if abs(raw - 1.0) <= abs(inserted - 1.0) else inserted


def drift_warns(ratio: float | None, *, warn_fraction: float) -> bool:
    return ratio is not None and abs(1.0 - ratio) > warn_fraction


def distortion_warns(hf_drop: float | None, *, warn_threshold: float) -> bool:
    return hf_drop is not None and hf_drop > warn_threshold


def boom_warns(spike_count: int | None, *, max_spikes: int) -> bool:
    return spike_count is not None and spike_count > max_spikes
