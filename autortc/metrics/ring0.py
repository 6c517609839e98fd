"""Ring 0: transport figures of one reply slice (docs/spec/measurement.md).

All frame figures use 10 ms frames of the *slice* (frame 0 starts at the slice's
first sample). `pre_on_slice` is the agent's pre-network reply already aligned onto
the slice's sample axis (see `align.aligned_pair`), zero where it has no samples.

- post_rms: RMS of the slice.
- max_gap_ms: longest run of silent frames strictly between the first and the last
  audible frame, x 10 ms.
- added_gap_ms: longest run of frames inside that span that are silent in post but
  NOT silent in the aligned pre (pre frame RMS >= 0.005), x 10 ms. A network gap
  that extends a natural pause counts only for its added part.
- added_gap_total_ms: all such frames, x 10 ms (used by the speed-drift fingerprint).
- audible_dropout: number of runs of >= 2 frames (anywhere in the slice) where the pre
  frame is audible and the post frame is silent or >= 20 dB below the pre frame.
- clipping_ratio: fraction of slice samples with |x| >= 0.999.
- inter_arrival_p95_ms: P95 (numpy linear) of the differences between receive times
  of consecutive `post_full` frames that overlap the slice.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from autortc.metrics import levels

CLIP_ABS = 0.999
DROPOUT_MIN_FRAMES = 2
DROPOUT_DROP_DB = 20.0


@dataclass(frozen=True)
class Ring0:
    post_rms: float
    max_gap_ms: float | None
    added_gap_ms: float | None
    added_gap_total_ms: float | None
    audible_dropout: int | None
    clipping_ratio: float | None
    inter_arrival_p95_ms: float | None


def interior_silent_mask(rms_frames: np.ndarray) -> np.ndarray | None:
    """Silent frames strictly between the first and last audible frame; None if no audible frame."""
    aud = np.flatnonzero(levels.audible_mask(rms_frames))
    if aud.size == 0:
        return None
    mask = np.zeros(len(rms_frames), dtype=bool)
    lo, hi = int(aud[0]) + 1, int(aud[-1])
    if hi > lo:
        mask[lo:hi] = levels.silent_mask(rms_frames[lo:hi])
    return mask


def max_gap_ms(rms_frames: np.ndarray) -> float | None:
    mask = interior_silent_mask(rms_frames)
    return None if mask is None else float(levels.longest_run(mask) * levels.FRAME_MS)


def added_gap_mask(post_rms_frames: np.ndarray, pre_rms_frames: np.ndarray) -> np.ndarray | None:
    mask = interior_silent_mask(post_rms_frames)
    if mask is None:
        return None
    return np.asarray(mask & ~levels.silent_mask(pre_rms_frames[: len(mask)]), dtype=bool)


def audible_dropout(post_rms_frames: np.ndarray, pre_rms_frames: np.ndarray) -> int:
    n = min(len(post_rms_frames), len(pre_rms_frames))
    post, pre = post_rms_frames[:n], pre_rms_frames[:n]
    ratio = 10.0 ** (-DROPOUT_DROP_DB / 20.0)
    bad = levels.audible_mask(pre) & (levels.silent_mask(post) | (post <= pre * ratio))
    return sum(1 for s, e in levels.runs(bad) if e - s >= DROPOUT_MIN_FRAMES)


def clipping_ratio(x: np.ndarray) -> float | None:
    a = np.asarray(x)
    return float(np.count_nonzero(np.abs(a) >= CLIP_ABS) / len(a)) if len(a) else None


def inter_arrival_p95_ms(
    recv_t_ns: np.ndarray, *, start_sample: int, end_sample: int, sample_rate_hz: int
) -> float | None:
    spf = levels.samples_per_frame(sample_rate_hz)
    if end_sample <= start_sample:
        return None
    i0 = start_sample // spf
    i1 = (end_sample - 1) // spf + 1
    t = np.asarray(recv_t_ns[i0:i1], dtype=np.float64)
    if len(t) < 2:
        return None
    return float(np.percentile(np.diff(t) / 1e6, 95, method="linear"))


def compute_ring0(
    post_slice: np.ndarray,
    *,
    sample_rate_hz: int,
    recv_t_ns: np.ndarray,
    start_sample: int,
    end_sample: int,
    pre_on_slice: np.ndarray | None = None,
) -> Ring0:
    """Ring 0 of one slice `post_full[start_sample:end_sample]`."""
    fr = levels.frame_rms(post_slice, sample_rate_hz)
    added_max: float | None = None
    added_total: float | None = None
    dropout: int | None = None
    if pre_on_slice is not None:
        pre_fr = levels.frame_rms(pre_on_slice, sample_rate_hz)
        am = added_gap_mask(fr, pre_fr)
        if am is not None:
            added_max = float(levels.longest_run(am) * levels.FRAME_MS)
            added_total = float(np.count_nonzero(am) * levels.FRAME_MS)
        dropout = audible_dropout(fr, pre_fr)
    return Ring0(
        post_rms=levels.rms(post_slice),
        max_gap_ms=max_gap_ms(fr),
        added_gap_ms=added_max,
        added_gap_total_ms=added_total,
        audible_dropout=dropout,
        clipping_ratio=clipping_ratio(post_slice),
        inter_arrival_p95_ms=inter_arrival_p95_ms(
            recv_t_ns,
            start_sample=start_sample,
            end_sample=end_sample,
            sample_rate_hz=sample_rate_hz,
        ),
    )
