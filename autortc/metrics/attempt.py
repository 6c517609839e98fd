"""One case attempt -> every figure (pure: `AttemptInputs` in, `AttemptRow` out).

The work is split in four steps, each a pure function:
1. `measure_replies`: slice every turn's reply and compute Ring 0 (and the
   pre_rtc alignment) per slice;
2. `reply_rows`: each slice as a `ReplyRow`, with Ring 1 when capture_status is OK;
3. `turn_rows`: Ring 2 latencies per user turn;
4. `attempt_figures` + `null_reasons`: the attempt-level figures (fingerprints,
   full RMS, extras), the promoted first-reply / turn-0 view, and a reason for
   every figure that has no value.

Thresholds are not known here: whether a figure warns or fails is for the gates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from autortc.metrics import align, fingerprints, levels, ring0, ring1, ring2, status
from autortc.metrics import registry as M
from autortc.metrics.inputs import AttemptInputs, TurnTiming
from autortc.metrics.registry import Metric, Promote
from autortc.metrics.rows import AttemptRow, Figures, ReplyRow, TurnRow, Value
from autortc.metrics.slicing import ReplySlice, reply_slices

RING0 = (
    M.POST_RMS,
    M.MAX_GAP,
    M.ADDED_GAP,
    M.AUDIBLE_DROPOUT,
    M.CLIPPING_RATIO,
    M.INTER_ARRIVAL_P95,
)
RING1 = (M.MEL_DISTANCE, M.HF_RATIO_DROP)
TRACE_FIGURES = (M.AGENT_EOT_TO_FIRST_AUDIO, M.TTS_FIRST_TO_PUBLISH, M.FAST_LANE_TTFT)


@dataclass(frozen=True)
class ReplyWork:
    """One reply slice with what every later step needs."""

    sl: ReplySlice
    audio: np.ndarray  # post_full[start:end], float64
    pre_reply: np.ndarray | None  # the pre_rtc reply of the same reply_seq
    pre_on_slice: np.ndarray | None  # pre_reply aligned onto the slice's sample axis
    lag: int | None
    r0: ring0.Ring0


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
    inputs: AttemptInputs, sig: Signals, turns: Sequence[TurnTiming]
) -> list[ReplyWork | None]:
    """Step 1: one entry per turn (sorted by turn_index); None where no reply was found."""
    slices = reply_slices(
        sig.post,
        sig.recv_t_ns,
        replies=inputs.replies,
        turns=turns,
        sample_rate_hz=sig.sample_rate_hz,
    )
    work: list[ReplyWork | None] = []
    for sl in slices:
        if sl is None:
            work.append(None)
            continue
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


def reply_rows(work: Sequence[ReplyWork | None], *, capture_status: str, sr: int) -> list[ReplyRow]:
    """Step 2: Ring 0 per slice, Ring 1 only when the attempt is OK and pre_rtc aligned."""
    out: list[ReplyRow] = []
    for w in work:
        if w is None:
            continue
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
        }
        if capture_status == status.OK and w.pre_on_slice is not None:
            values[M.MEL_DISTANCE] = ring1.mel_distance_db(
                w.pre_on_slice, w.audio, sample_rate_hz=sr
            )
            values[M.HF_RATIO_DROP] = ring1.hf_ratio_drop(
                w.pre_on_slice, w.audio, sample_rate_hz=sr
            )
        out.append(
            ReplyRow(
                turn_index=w.sl.turn_index,
                reply_seq=w.sl.reply_seq,
                interrupted=w.sl.interrupted,
                slice_source=w.sl.source,
                start_sample=w.sl.start_sample,
                end_sample=w.sl.end_sample,
                figures=_rounded(values),
            )
        )
    return out


def turn_rows(
    inputs: AttemptInputs,
    sig: Signals,
    turns: Sequence[TurnTiming],
    work: Sequence[ReplyWork | None],
) -> list[TurnRow]:
    """Step 3: Ring 2 per user turn (latency at the probe, trace figures, barge-in stop)."""
    trace = ring2.trace_by_turn(inputs.agent_trace, turns)
    out: list[TurnRow] = []
    for i, turn in enumerate(turns):
        w = work[i] if i < len(work) else None
        lat, onset = (None, None)
        if w is not None:
            lat, onset = ring2.eot_to_first_audio_ms(
                sig.post,
                sig.recv_t_ns,
                rms_frames=sig.rms_frames,
                reply=w.sl,
                eot_left_t_ns=turn.eot_left_t_ns,
                sample_rate_hz=sig.sample_rate_hz,
            )
        values: dict[Metric, Value] = {M.EOT_TO_FIRST_AUDIO: lat, M.ONSET_SAMPLE: onset}
        points = ring2.trace_latencies(trace.get(turn.turn_index, {}))
        values[M.AGENT_EOT_TO_FIRST_AUDIO] = points.agent_eot_to_first_audio_ms
        values[M.TTS_FIRST_TO_PUBLISH] = points.tts_first_to_publish_ms
        values[M.FAST_LANE_TTFT] = points.fast_lane_ttft_ms
        values[M.BARGE_IN_STOP] = None
        if turn.is_barge_in and i > 0:
            prev = work[i - 1]
            values[M.BARGE_IN_STOP] = ring2.barge_in_stop_ms(
                sig.post,
                sig.recv_t_ns,
                rms_frames=sig.rms_frames,
                barge_in=turn,
                interrupted=prev.sl if prev else None,
                next_reply_start_sample=w.sl.start_sample if w else None,
                sample_rate_hz=sig.sample_rate_hz,
            )
        out.append(
            TurnRow(
                turn_index=turn.turn_index,
                is_barge_in=turn.is_barge_in,
                reply_seq=w.sl.reply_seq if w else None,
                figures=_rounded(values),
            )
        )
    return out


def attempt_figures(
    inputs: AttemptInputs,
    sig: Signals,
    *,
    first: ReplyWork | None,
    replies: Sequence[ReplyRow],
    turns: Sequence[TurnRow],
    capture_status: str,
    full_rms: float,
) -> Figures:
    """Step 4: the attempt-level figures and the promoted first-reply / turn-0 view."""
    sr = sig.sample_rate_hz
    first_row = replies[0] if first is not None and replies else None
    turn0 = turns[0] if turns else None
    barge = next((t for t in turns if t.is_barge_in), None)
    spikes, peak = fingerprints.detect_spikes(np.asarray(inputs.input_audio), sample_rate_hz=sr)
    drift = None
    if first is not None and first.pre_reply is not None and first.pre_on_slice is not None:
        drift = fingerprints.drift_ratio(
            first.pre_reply,
            first.audio,
            sample_rate_hz=sr,
            added_gap_total_ms=first.r0.added_gap_total_ms,
        )
    own: dict[Metric, Value] = {
        M.FULL_RMS: full_rms,
        M.ALIGN_LAG_MS: None if first is None or first.lag is None else first.lag * 1000.0 / sr,
        M.INPUT_SPIKE_COUNT: spikes,
        M.INPUT_MAX_ABS_PEAK: peak,
        M.DRIFT_RATIO: drift,
    }
    if capture_status == status.OK and first is not None and first.pre_on_slice is not None:
        extras = ring1.optional_extras(first.pre_on_slice, first.audio, sample_rate_hz=sr)
        own.update(extras)
    figures: Figures = {}
    for m in M.row_metrics():
        if m in own:
            figures[m.name] = m.round(own[m])
        elif m.level is M.Level.REPLY:
            figures[m.name] = first_row.get(m) if first_row is not None else None
        elif m.level is M.Level.TURN:
            src = barge if m.promote is Promote.FIRST_BARGE_IN else turn0
            figures[m.name] = src.get(m) if src is not None else None
    return figures


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


def null_reasons(
    inputs: AttemptInputs,
    figures: Figures,
    *,
    first: ReplyWork | None,
    turns: Sequence[TurnTiming],
    capture_status: str,
) -> dict[str, str]:
    """A reason for every attempt-level figure without a value."""
    ring1_why = f"capture_status {capture_status} (Ring 1 only when OK)"
    pre_why = _pre_reason(inputs, first.sl if first else None)
    if first is None:
        no_reply = (
            "no user turns recorded"
            if not turns
            else "no reply found (no events, no audible run after EoT)"
        )
        reply_why: dict[Metric, str] = {m: no_reply for m in (*RING0, M.ALIGN_LAG_MS)}
        reply_why.update({m: no_reply if capture_status == status.OK else ring1_why for m in RING1})
    else:
        reply_why = {
            M.POST_RMS: "empty reply slice",
            M.CLIPPING_RATIO: "empty reply slice",
            M.INTER_ARRIVAL_P95: "fewer than two probe frames in the reply slice",
            M.ADDED_GAP: pre_why,
            M.AUDIBLE_DROPOUT: pre_why,
            M.MAX_GAP: "no audible frame in the reply slice",
            M.ALIGN_LAG_MS: pre_why,
        }
        ring1_ok_why = "pre_rtc reply has no audible / 0-8 kHz energy"
        reply_why.update(
            {m: ring1_ok_why if capture_status == status.OK else ring1_why for m in RING1}
        )
    if turns:
        no_trace = (
            "no agent trace (black-box)"
            if not inputs.agent_trace
            else "trace points missing for turn 0"
        )
        turn_why: dict[Metric, str] = {m: no_trace for m in TRACE_FIGURES}
        turn_why[M.EOT_TO_FIRST_AUDIO] = (
            "no reply found" if first is None else "no audible frame in the reply slice"
        )
        turn_why[M.ONSET_SAMPLE] = turn_why[M.EOT_TO_FIRST_AUDIO]
    else:
        turn_why = {
            m: "no user turns recorded"
            for m in (M.EOT_TO_FIRST_AUDIO, M.ONSET_SAMPLE, *TRACE_FIGURES)
        }
    has_barge = any(t.is_barge_in for t in turns)
    turn_why[M.BARGE_IN_STOP] = (
        "agent not audible at the barge-in" if has_barge else "no barge-in turn in this case"
    )
    why = {**reply_why, **turn_why, M.DRIFT_RATIO: pre_why}
    return {m.name: text for m, text in why.items() if figures.get(m.name) is None}


def analyze_attempt(inputs: AttemptInputs) -> AttemptRow:
    """Every figure of one attempt. Pure; never raises on missing parts (figures go None)."""
    sr = inputs.sample_rate_hz
    post = np.asarray(inputs.post_full, dtype=np.float64)
    sig = Signals(
        post=post,
        recv_t_ns=np.asarray(inputs.post_frame_recv_t_ns, dtype=np.int64),
        rms_frames=levels.frame_rms(post, sr),
        sample_rate_hz=sr,
    )
    full_rms = levels.rms(post)
    turns = sorted(inputs.turns, key=lambda t: t.turn_index)
    work = measure_replies(inputs, sig, turns)
    first = work[0] if work else None
    valid = status.audio_valid(first.r0.post_rms if first is not None else None, full_rms)
    cap = status.capture_status(
        status.StatusFacts(
            infra_status=inputs.infra_status,
            audio_valid=valid,
            all_replies_from_events=bool(work)
            and all(w is not None and w.sl.source == "events" for w in work),
            pre_present=first is not None and first.pre_on_slice is not None,
        )
    )
    replies = reply_rows(work, capture_status=cap, sr=sr)
    t_rows = turn_rows(inputs, sig, turns, work)
    figures = attempt_figures(
        inputs,
        sig,
        first=first,
        replies=replies,
        turns=t_rows,
        capture_status=cap,
        full_rms=full_rms,
    )
    return AttemptRow(
        case_id=inputs.case_id,
        priority=inputs.priority,
        attempt=inputs.attempt,
        trace_id=inputs.trace_id,
        capture_status=cap,
        audio_valid=valid,
        retry=status.should_retry(cap),
        slice_source=first.sl.source if first else None,
        reply_start_sample=first.sl.start_sample if first else None,
        reply_end_sample=first.sl.end_sample if first else None,
        figures=figures,
        replies=tuple(replies),
        turns=tuple(t_rows),
        null_reasons=null_reasons(inputs, figures, first=first, turns=turns, capture_status=cap),
    )


def reply_slice_audio(inputs: AttemptInputs, row: AttemptRow) -> np.ndarray | None:
    """The first reply's samples of `post_full` (float, as given), for post_rtc_reply.wav."""
    if row.reply_start_sample is None or row.reply_end_sample is None:
        return None
    return np.asarray(inputs.post_full)[row.reply_start_sample : row.reply_end_sample]


def _rounded(values: dict[Metric, Value]) -> Figures:
    return {m.name: m.round(v) for m, v in values.items()}
