"""One case attempt -> every figure (pure: `AttemptInputs` in, `AttemptMetrics` out).

The flat dict of `AttemptMetrics.to_dict()` holds the FIRST reply's figures (the reply
to turn 0), plus `replies` (one dict per reply slice) and `turns` (per-turn latencies);
`null_reasons` explains every None figure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from autortc.gates import GatesConfig
from autortc.metrics import align, fingerprints, levels, ring0, ring1, ring2, status
from autortc.metrics.inputs import AttemptInputs
from autortc.metrics.slicing import ReplySlice, reply_slices

RING0_KEYS = (
    "post_rms",
    "max_gap_ms",
    "added_gap_ms",
    "audible_dropout",
    "clipping_ratio",
    "inter_arrival_p95_ms",
)
RING1_KEYS = ("mel_distance", "hf_ratio_drop")
RING2_KEYS = (
    "eot_to_first_audio_ms",
    "agent_eot_to_first_audio_ms",
    "tts_first_to_publish_ms",
    "fast_lane_ttft_ms",
    "barge_in_stop_ms",
)
FP_KEYS = ("input_spike_count", "input_max_abs_peak", "drift_ratio")
TRACE_KEYS = ("agent_eot_to_first_audio_ms", "tts_first_to_publish_ms", "fast_lane_ttft_ms")


@dataclass
class AttemptMetrics:
    case_id: str
    priority: str
    attempt: int
    trace_id: str
    capture_status: str
    audio_valid: bool
    slice_source: str | None
    reply_start_sample: int | None
    reply_end_sample: int | None
    figures: dict[str, Any] = field(default_factory=dict)
    replies: list[dict[str, Any]] = field(default_factory=list)
    turns: list[dict[str, Any]] = field(default_factory=list)
    null_reasons: dict[str, str] = field(default_factory=dict)

    def reply_slice(self, inputs: AttemptInputs) -> np.ndarray | None:
        """The first reply's samples of `inputs.post_full` (for post_rtc_reply.wav)."""
        return reply_slice_audio(inputs, self)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "case_id": self.case_id,
            "priority": self.priority,
            "attempt": self.attempt,
            "trace_id": self.trace_id,
            "capture_status": self.capture_status,
            "audio_valid": self.audio_valid,
            "retry": status.should_retry(self.capture_status),
            "slice_source": self.slice_source,
            "reply_start_sample": self.reply_start_sample,
            "reply_end_sample": self.reply_end_sample,
        }
        out.update(self.figures)
        out["replies"] = [dict(r) for r in self.replies]
        out["turns"] = [dict(t) for t in self.turns]
        out["null_reasons"] = dict(self.null_reasons)
        return out


def _f(x: float | None, nd: int = 3) -> float | None:
    return None if x is None else round(float(x), nd)


@dataclass
class _ReplyWork:
    sl: ReplySlice
    audio: np.ndarray
    pre_reply: np.ndarray | None
    pre_on_slice: np.ndarray | None
    lag: int | None
    r0: ring0.Ring0


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


def _pre_reason(inputs: AttemptInputs, sl: ReplySlice | None) -> str:
    if sl is None:
        return "no reply found"
    if inputs.pre_rtc is None:
        return "pre_rtc missing"
    if sl.source != "events":
        return "reply sliced from energy (no reply events): cannot pair with pre_rtc"
    if not inputs.pre_rtc_replies or sl.reply_seq not in inputs.pre_rtc_replies:
        return f"pre_rtc has no boundaries for reply_seq {sl.reply_seq}"
    return "pre_rtc reply silent or not alignable"


def analyze_attempt(inputs: AttemptInputs, *, gates: GatesConfig | None = None) -> AttemptMetrics:
    """Every figure of one attempt. Pure; never raises on missing parts (figures go None)."""
    cfg = gates or GatesConfig()
    sr = inputs.sample_rate_hz
    post = np.asarray(inputs.post_full, dtype=np.float64)
    recv = np.asarray(inputs.post_frame_recv_t_ns, dtype=np.int64)
    fr = levels.frame_rms(post, sr)
    full_rms = levels.rms(post)
    turns = sorted(inputs.turns, key=lambda t: t.turn_index)
    slices = reply_slices(post, recv, replies=inputs.replies, turns=turns, sample_rate_hz=sr)

    work: list[_ReplyWork | None] = []
    for sl in slices:
        if sl is None:
            work.append(None)
            continue
        audio = post[sl.start_sample : sl.end_sample]
        pre_reply, pre_on, lag = _pair_pre(inputs, sl, audio)
        r0 = ring0.compute_ring0(
            audio,
            sample_rate_hz=sr,
            recv_t_ns=recv,
            start_sample=sl.start_sample,
            end_sample=sl.end_sample,
            pre_on_slice=pre_on,
        )
        work.append(_ReplyWork(sl, audio, pre_reply, pre_on, lag, r0))

    first = work[0] if work else None
    reply_rms = first.r0.post_rms if first is not None else None
    valid = status.audio_valid(reply_rms, full_rms)
    facts = status.StatusFacts(
        infra_status=inputs.infra_status,
        audio_valid=valid,
        all_replies_from_events=bool(work)
        and all(w is not None and w.sl.source == "events" for w in work),
        pre_present=first is not None and first.pre_on_slice is not None,
    )
    cap = status.capture_status(facts)
    reasons: dict[str, str] = {}
    figs: dict[str, Any] = {"full_rms": _f(full_rms, 5)}

    # Ring 0 + Ring 1, per reply
    reply_dicts: list[dict[str, Any]] = []
    for w in work:
        if w is None:
            continue
        d: dict[str, Any] = {
            "turn_index": w.sl.turn_index,
            "reply_seq": w.sl.reply_seq,
            "interrupted": w.sl.interrupted,
            "slice_source": w.sl.source,
            "start_sample": w.sl.start_sample,
            "end_sample": w.sl.end_sample,
            "align_lag_samples": w.lag,
            "post_rms": _f(w.r0.post_rms, 5),
            "max_gap_ms": _f(w.r0.max_gap_ms),
            "added_gap_ms": _f(w.r0.added_gap_ms),
            "audible_dropout": w.r0.audible_dropout,
            "clipping_ratio": _f(w.r0.clipping_ratio, 7),
            "inter_arrival_p95_ms": _f(w.r0.inter_arrival_p95_ms),
            "mel_distance": None,
            "hf_ratio_drop": None,
        }
        if cap == status.OK and w.pre_on_slice is not None:
            d["mel_distance"] = _f(
                ring1.mel_distance_db(w.pre_on_slice, w.audio, sample_rate_hz=sr)
            )
            d["hf_ratio_drop"] = _f(
                ring1.hf_ratio_drop(w.pre_on_slice, w.audio, sample_rate_hz=sr), 4
            )
            if w is first:
                figs.update(ring1.optional_extras(w.pre_on_slice, w.audio, sample_rate_hz=sr))
        reply_dicts.append(d)

    if first is not None:
        first_d = reply_dicts[0]
        for k in (*RING0_KEYS, *RING1_KEYS):
            figs[k] = first_d[k]
        figs["align_lag_ms"] = None if first.lag is None else _f(first.lag * 1000.0 / sr)
        for k in ("added_gap_ms", "audible_dropout"):
            if figs[k] is None:
                reasons[k] = _pre_reason(inputs, first.sl)
        if figs["max_gap_ms"] is None:
            reasons["max_gap_ms"] = "no audible frame in the reply slice"
        for k in RING1_KEYS:
            if figs[k] is None:
                reasons[k] = (
                    f"capture_status {cap} (Ring 1 only when OK)"
                    if cap != status.OK
                    else "pre_rtc reply has no audible / 0-8 kHz energy"
                )
        if figs["align_lag_ms"] is None:
            reasons["align_lag_ms"] = _pre_reason(inputs, first.sl)
    else:
        why = (
            "no user turns recorded"
            if not turns
            else "no reply found (no events, no audible run after EoT)"
        )
        for k in (*RING0_KEYS, *RING1_KEYS, "align_lag_ms"):
            figs[k] = None
            reasons[k] = (
                why
                if k not in RING1_KEYS or cap == status.OK
                else f"capture_status {cap} (Ring 1 only when OK)"
            )

    # Ring 2, per turn
    trace = ring2.trace_by_turn(inputs.agent_trace, turns)
    turn_dicts: list[dict[str, Any]] = []
    for i, turn in enumerate(turns):
        w = work[i] if i < len(work) else None
        td: dict[str, Any] = {
            "turn_index": turn.turn_index,
            "is_barge_in": turn.is_barge_in,
            "reply_seq": w.sl.reply_seq if w else None,
        }
        lat, onset = (None, None)
        if w is not None:
            lat, onset = ring2.eot_to_first_audio_ms(
                post,
                recv,
                rms_frames=fr,
                reply=w.sl,
                eot_left_t_ns=turn.eot_left_t_ns,
                sample_rate_hz=sr,
            )
        td["eot_to_first_audio_ms"] = _f(lat)
        td["onset_sample"] = onset
        td.update(
            {k: _f(v) for k, v in ring2.trace_latencies(trace.get(turn.turn_index, {})).items()}
        )
        td["barge_in_stop_ms"] = None
        if turn.is_barge_in and i > 0:
            prev = work[i - 1]
            td["barge_in_stop_ms"] = _f(
                ring2.barge_in_stop_ms(
                    post,
                    recv,
                    rms_frames=fr,
                    barge_in=turn,
                    interrupted=prev.sl if prev else None,
                    next_reply_start_sample=w.sl.start_sample if w else None,
                    sample_rate_hz=sr,
                )
            )
        turn_dicts.append(td)

    if turn_dicts:
        t0 = turn_dicts[0]
        figs["eot_to_first_audio_ms"] = t0["eot_to_first_audio_ms"]
        figs["onset_sample"] = t0["onset_sample"]
        if t0["eot_to_first_audio_ms"] is None:
            reasons["eot_to_first_audio_ms"] = (
                "no reply found" if first is None else "no audible frame in the reply slice"
            )
        for k in TRACE_KEYS:
            figs[k] = t0[k]
            if figs[k] is None:
                reasons[k] = (
                    "no agent trace (black-box)"
                    if not inputs.agent_trace
                    else "trace points missing for turn 0"
                )
    else:
        for k in ("eot_to_first_audio_ms", "onset_sample", *TRACE_KEYS):
            figs[k] = None
            reasons[k] = "no user turns recorded"
    barge = [t for t in turn_dicts if t["is_barge_in"]]
    figs["barge_in_stop_ms"] = barge[0]["barge_in_stop_ms"] if barge else None
    if figs["barge_in_stop_ms"] is None:
        reasons["barge_in_stop_ms"] = (
            "agent not audible at the barge-in" if barge else "no barge-in turn in this case"
        )

    # P1 fingerprints
    spikes, peak = fingerprints.detect_spikes(np.asarray(inputs.input_audio), sample_rate_hz=sr)
    figs["input_spike_count"] = spikes
    figs["input_max_abs_peak"] = _f(peak, 5)
    drift = None
    if first is not None and first.pre_reply is not None and first.pre_on_slice is not None:
        drift = fingerprints.drift_ratio(
            first.pre_reply,
            first.audio,
            sample_rate_hz=sr,
            added_gap_total_ms=first.r0.added_gap_total_ms,
        )
    figs["drift_ratio"] = _f(drift, 5)
    if drift is None:
        reasons["drift_ratio"] = _pre_reason(inputs, first.sl if first else None)
    figs["fp_boom_warn"] = fingerprints.boom_warns(spikes, max_spikes=cfg.warn_input_spike_count)
    figs["fp_speed_drift_warn"] = fingerprints.drift_warns(
        drift, warn_fraction=cfg.warn_drift_fraction
    )
    figs["fp_distortion_warn"] = fingerprints.distortion_warns(
        figs.get("hf_ratio_drop"), warn_threshold=cfg.warn_hf_ratio_drop
    )

    return AttemptMetrics(
        case_id=inputs.case_id,
        priority=inputs.priority,
        attempt=inputs.attempt,
        trace_id=inputs.trace_id,
        capture_status=cap,
        audio_valid=valid,
        slice_source=first.sl.source if first else None,
        reply_start_sample=first.sl.start_sample if first else None,
        reply_end_sample=first.sl.end_sample if first else None,
        figures=figs,
        replies=reply_dicts,
        turns=turn_dicts,
        null_reasons=reasons,
    )


def reply_slice_audio(inputs: AttemptInputs, metrics: AttemptMetrics) -> np.ndarray | None:
    """The first reply's samples of `post_full` (float, as given), for post_rtc_reply.wav."""
    if metrics.reply_start_sample is None or metrics.reply_end_sample is None:
        return None
    return np.asarray(inputs.post_full)[metrics.reply_start_sample : metrics.reply_end_sample]
