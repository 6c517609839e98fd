"""Steps 1 and 2 of `analyze_attempt`: every reply slice measured (pure).

`measure_replies` pairs each slice with its pre_rtc reply (by `reply_seq`, aligned
onto the slice) and computes Ring 0; `reply_rows` turns each into a `ReplyRow`, with
Ring 1 and the drift fingerprint where the capture allows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from autortc.metrics import align, fingerprints, ring0, ring1, status
from autortc.metrics import registry as M
from autortc.metrics.inputs import AttemptInputs
from autortc.metrics.registry import Metric
from autortc.metrics.rows import Figures, ReplyRow, Value
from autortc.metrics.slicing import ReplySlice

RING0 = (
    M.POST_RMS,
    M.MAX_GAP,
    M.ADDED_GAP,
    M.AUDIBLE_DROPOUT,
    M.CLIPPING_RATIO,
    M.INTER_ARRIVAL_P95,
)
RING1 = (M.MEL_DISTANCE, M.HF_RATIO_DROP)


@dataclass(frozen=True)
class ReplyWork:
    """One reply slice with what every later step needs."""

    sl: ReplySlice
    audio: np.ndarray  # post_full[start:end], float64
    pre_reply: np.ndarray | None  # the pre_rtc reply of the same reply_seq
    pre_on_slice: np.ndarray | None  # pre_reply aligned onto the slice's sample axis
    lag: int | None
    r0: ring0.Ring0

    def contains(self, sample: int) -> bool:
        return self.sl.start_sample <= sample < self.sl.end_sample


@dataclass(frozen=True)
class Signals:
    """The probe recording as the steps share it."""

    post: np.ndarray  # float64
    recv_t_ns: np.ndarray  # int64
    rms_frames: np.ndarray
    sample_rate_hz: int


def _pair_pre(
    inputs: AttemptInputs, sl: ReplySlice, audio: np.ndarray
) -> tuple[np.ndarray | None, np.ndarray | None, int | None]:
    if inputs.pre_rtc is None or not inputs.pre_rtc_replies or sl.reply_seq is None:
        return None, None, None
    if sl.source != "events" or sl.reply_seq not in inputs.pre_rtc_replies:
        return None, None, None
    a, b = inputs.pre_rtc_replies[sl.reply_seq]
    pre_reply = np.asarray(inputs.pre_rtc[a:b], dtype=np.float64)
    lag = align.find_lag(pre_reply, audio, sample_rate_hz=inputs.sample_rate_hz)
    if lag is None:
        return pre_reply, None, None
    on_slice, _, _ = align.aligned_pair(pre_reply, audio, lag)
    return pre_reply, on_slice, lag


def measure_replies(
    inputs: AttemptInputs, sig: Signals, slices: Sequence[ReplySlice]
) -> list[ReplyWork]:
    """Step 1: each reply slice with its pre_rtc pairing and Ring 0."""
    work = []
    for sl in slices:
        audio = sig.post[sl.start_sample : sl.end_sample]
        pre_reply, pre_on, lag = _pair_pre(inputs, sl, audio)
        r0 = ring0.compute_ring0(
            audio,
            sample_rate_hz=sig.sample_rate_hz,
            recv_t_ns=sig.recv_t_ns,
            start_sample=sl.start_sample,
            end_sample=sl.end_sample,
            pre_on_slice=pre_on,
        )
        work.append(ReplyWork(sl, audio, pre_reply, pre_on, lag, r0))
    return work


def reply_rows(work: Sequence[ReplyWork], *, capture_status: str, sr: int) -> list[ReplyRow]:
    """Step 2: Ring 0 per slice; Ring 1 and drift only when OK and pre_rtc is aligned."""
    out: list[ReplyRow] = []
    for w in work:
        values: dict[Metric, Value] = {
            M.POST_RMS: w.r0.post_rms,
            M.MAX_GAP: w.r0.max_gap_ms,
            M.ADDED_GAP: w.r0.added_gap_ms,
            M.AUDIBLE_DROPOUT: w.r0.audible_dropout,
            M.CLIPPING_RATIO: w.r0.clipping_ratio,
            M.INTER_ARRIVAL_P95: w.r0.inter_arrival_p95_ms,
            M.ALIGN_LAG_SAMPLES: w.lag,
            M.MEL_DISTANCE: None,
            M.HF_RATIO_DROP: None,
            M.DRIFT_RATIO: None,
            M.PRE_RTC_END: None,
        }
        if capture_status == status.OK and w.pre_on_slice is not None:
            values[M.MEL_DISTANCE] = ring1.mel_distance_db(
                w.pre_on_slice, w.audio, sample_rate_hz=sr
            )
            values[M.HF_RATIO_DROP] = ring1.hf_ratio_drop(
                w.pre_on_slice, w.audio, sample_rate_hz=sr
            )
            values[M.PRE_RTC_END] = ring1.pre_rtc_end_mismatch_ms(
                w.pre_on_slice, w.audio, sample_rate_hz=sr
            )
        if w.pre_reply is not None and w.pre_on_slice is not None and not w.sl.interrupted:
            values[M.DRIFT_RATIO] = fingerprints.drift_ratio(
                w.pre_reply, w.audio, sample_rate_hz=sr, added_gap_total_ms=w.r0.added_gap_total_ms
            )
        out.append(
            ReplyRow(
                turn_index=w.sl.turn_index,
                reply_seq=w.sl.reply_seq,
                interrupted=w.sl.interrupted,
                slice_source=w.sl.source,
                start_sample=w.sl.start_sample,
                end_sample=w.sl.end_sample,
                figures=rounded(values),
            )
        )
    return out


def rounded(values: dict[Metric, Value]) -> Figures:
    return {m.name: m.round(v) for m, v in values.items()}
