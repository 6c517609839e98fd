"""One case attempt -> every figure (pure: `AttemptInputs` in, `AttemptRow` out).

The work is split in steps, each a pure function:
1. `slicing.reply_slices` + `replies.measure_replies`: slice every reply (by its events, or by energy
   where no event frames the agent's speech), pair it with its pre_rtc reply, and
   compute Ring 0 per slice;
2. `replies.reply_rows`: each slice as a `ReplyRow`, with Ring 1 (and the drift fingerprint)
   when capture_status is OK;
3. `turn_rows`: per user turn, Ring 3 (who talked when: false endpoint, answer,
   overlap, unanswered, false interruption) and Ring 2 measured to the turn's answer;
4. `attempt_figures` + `null_reasons`: the attempt-level figures, the promoted view
   (the answer to turn 0, turn 0), and a reason for every figure without a value.

Thresholds are not known here: whether a figure warns or fails is for the gates.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from autortc.metrics import fingerprints, levels, ring1, status
from autortc.metrics import registry as M
from autortc.metrics.inputs import AttemptInputs, TurnTiming
from autortc.metrics.network_figures import network_figures, reply_conceals, speech_span
from autortc.metrics.registry import Metric, Promote
from autortc.metrics.replies import (
    RING0,
    RING1,
    ReplyWork,
    Signals,
    measure_replies,
    reply_rows,
)
from autortc.metrics.rows import AttemptRow, Figures, ReplyRow, TurnRow, Value
from autortc.metrics.slicing import ReplySlice, reply_slices
from autortc.metrics.turns import answers, turn_rows

TRACE_FIGURES = (
    M.AGENT_EOT_TO_FIRST_AUDIO,
    M.TTS_FIRST_TO_PUBLISH,
    M.OUTPUT_WAIT,
    M.FAST_LANE_TTFT,
    M.STARTER_HIT,
)


def attempt_figures(
    inputs: AttemptInputs,
    *,
    first: ReplyWork | None,
    first_row: ReplyRow | None,
    turns: Sequence[TurnRow],
    capture_status: str,
    full_rms: float,
    work: Sequence[ReplyWork] = (),
    recv_t_ns: np.ndarray | None = None,
) -> Figures:
    """Step 4: the attempt-level figures and the promoted first-reply / turn-0 view."""
    sr = inputs.sample_rate_hz
    turn0 = turns[0] if turns else None
    barge = next((t for t in turns if t.is_barge_in), None)
    spikes, peak = fingerprints.detect_spikes(np.asarray(inputs.input_audio), sample_rate_hz=sr)
    own: dict[Metric, Value] = {
        M.FULL_RMS: full_rms,
        M.ALIGN_LAG_MS: None if first is None or first.lag is None else first.lag * 1000.0 / sr,
        M.INPUT_SPIKE_COUNT: spikes,
        M.INPUT_MAX_ABS_PEAK: peak,
        M.DROPPED_STALE: inputs.message_counters.get("stale"),
        M.DROPPED_DUPLICATE: inputs.message_counters.get("duplicate"),
        M.DROPPED_BAD: inputs.message_counters.get("bad"),
        M.DROPPED_WRONG_SENDER: inputs.message_counters.get("wrong_sender"),
        **network_figures(inputs.agent_track_network),
    }
    if M.CONCEAL_EVENTS in own:  # a network: its events in the replies, and per second
        got = reply_conceals(
            inputs.agent_track_network,
            [
                speech_span(w.sl.start_sample, w.sl.end_sample, w.pre_on_slice, sample_rate_hz=sr)
                for w in work
            ],
            np.zeros(0) if recv_t_ns is None else recv_t_ns,
            sample_rate_hz=sr,
        )
        own[M.REPLY_CONCEAL_EVENTS] = None if got is None else got[0]
        own[M.CONCEAL_RATE] = None if got is None else got[0] / got[1]
    if capture_status == status.OK and first is not None and first.pre_on_slice is not None:
        own.update(ring1.optional_extras(first.pre_on_slice, first.audio, sample_rate_hz=sr))
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
        return "no reply answered turn 0"
    if inputs.pre_rtc is None:
        return "pre_rtc missing"
    if sl.source != "events":
        return "reply sliced from energy (no complete reply events): cannot pair with pre_rtc"
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
            else "no reply answered turn 0 (no agent audio after its EoT)"
        )
        why: dict[Metric, str] = {m: no_reply for m in (*RING0, M.ALIGN_LAG_MS, M.DRIFT_RATIO)}
        why.update({m: no_reply if capture_status == status.OK else ring1_why for m in RING1})
    else:
        ring1_ok_why = "pre_rtc reply has no audible / 0-8 kHz energy"
        why = {
            M.POST_RMS: "empty reply slice",
            M.CLIPPING_RATIO: "empty reply slice",
            M.INTER_ARRIVAL_P95: "fewer than two probe frames in the reply slice",
            M.ADDED_GAP: pre_why,
            M.AUDIBLE_DROPOUT: pre_why,
            M.MAX_GAP: "no audible frame in the reply slice",
            M.ALIGN_LAG_MS: pre_why,
            M.DRIFT_RATIO: "the reply was interrupted" if first.sl.interrupted else pre_why,
        }
        why.update({m: ring1_ok_why if capture_status == status.OK else ring1_why for m in RING1})
    if turns:
        no_trace = (
            "no agent trace (black-box)"
            if not inputs.agent_trace
            else "trace points missing for turn 0"
        )
        why.update({m: no_trace for m in TRACE_FIGURES})
        hop_why = (
            "the agent's agent_ready did not name the probe's clock (remote, black-box or an "
            "older integration): no hop budget"
            if not inputs.agent_on_host_clock
            else "trace points or pre_rtc missing for turn 0's answer, or its split not "
            "known to a frame (frames handed in a burst, or the first one within a frame "
            "of the decision)"
        )
        why.update({m: hop_why for m in (M.ENDPOINTING, M.AGENT_PROCESSING, M.AGENT_TO_PROBE)})
        why[M.USER_TO_AGENT] = (
            hop_why
            if not inputs.agent_on_host_clock
            else "the agent kept no record of what it heard (agent_in), or turn 0's EoT was "
            "not found in it"
        )
        why[M.EOT_TO_FIRST_AUDIO] = "no reply started after turn 0's EoT"
        why[M.USER_TO_PROBE] = (
            "the probe did not record the user track"
            if inputs.post_user is None
            else "turn 0's last second of speech was not found on the user track at the probe"
        )
        why[M.ONSET_SAMPLE] = why[M.EOT_TO_FIRST_AUDIO]
        why[M.EARLY_REPLY] = "no false endpoint in turn 0"
        why[M.FALSE_INTERRUPTION] = (
            "turn 0 has no reply to judge"
            if turns[0].noisy
            else "turn 0 is not a noise turn (or a barge-in follows it)"
        )
    else:
        no_turns = (
            M.EOT_TO_FIRST_AUDIO,
            M.ONSET_SAMPLE,
            *TRACE_FIGURES,
            M.ENDPOINTING,
            M.AGENT_PROCESSING,
            M.AGENT_TO_PROBE,
            M.USER_TO_PROBE,
            M.USER_TO_AGENT,
        )
        why.update({m: "no user turns recorded" for m in no_turns})
        for m in (M.FALSE_ENDPOINT, M.EARLY_REPLY, M.OVERLAP, M.UNANSWERED, M.FALSE_INTERRUPTION):
            why[m] = "no user turns recorded"
    for m in (M.DROPPED_STALE, M.DROPPED_DUPLICATE, M.DROPPED_BAD, M.DROPPED_WRONG_SENDER):
        why[m] = "the probe left no message counts (probe_result.json)"
    has_barge = any(t.is_barge_in for t in turns)
    why[M.BARGE_IN_STOP] = (
        "agent not audible at the barge-in" if has_barge else "no barge-in turn in this case"
    )
    why[M.AGENT_CANCEL] = (
        "the agent traced no barge_in / cancel_done for the interrupted reply (it did not "
        "decide the barge-in, ignored it, or is black-box)"
        if has_barge
        else "no barge-in turn in this case"
    )
    why[M.PRE_RTC_END] = why.get(M.MEL_DISTANCE, pre_why)  # the same pairing as Ring 1
    return {m.name: text for m, text in why.items() if figures.get(m.name) is None}


def capture_status(
    inputs: AttemptInputs, work: Sequence[ReplyWork], valid: bool, pre_present: bool
) -> str:
    incomplete = [
        r.reply_seq
        for r in inputs.replies
        if r.start_recv_t_ns is not None and r.end_recv_t_ns is None
    ]
    return status.capture_status(
        status.StatusFacts(
            infra_status=inputs.infra_status,
            audio_valid=valid,
            reply_incomplete=bool(incomplete) and not inputs.blackbox,
            all_replies_from_events=bool(work) and all(w.sl.source == "events" for w in work),
            pre_present=pre_present,
        )
    )


def analyze_attempt(inputs: AttemptInputs) -> AttemptRow:
    """Every figure of one attempt. Pure; never raises on missing parts (figures go None)."""
    return analyze_attempt_work(inputs)[0]


def analyze_attempt_work(inputs: AttemptInputs) -> tuple[AttemptRow, ReplyWork | None]:
    """`analyze_attempt`, and the first reply's work (its audio and aligned pre_rtc) for
    the figures computed later (listening models, the recogniser: autortc/quality)."""
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
    slices, onsets = reply_slices(
        sig.post,
        sig.recv_t_ns,
        replies=inputs.replies,
        turns=turns,
        sample_rate_hz=sr,
        rms_frames=sig.rms_frames,
    )
    work = measure_replies(inputs, sig, slices)
    turn_answers = answers(turns, onsets, work)
    first = turn_answers[0].work if turn_answers else None
    valid = status.audio_valid(first.r0.post_rms if first is not None else None, full_rms)
    # the capture is judged on the first turn's answer or, when no reply started after
    # the EoT (the agent talked over the caller), on the first reply heard
    captured = first if first is not None else (work[0] if work else None)
    pre_present = captured is not None and captured.pre_on_slice is not None
    cap = capture_status(inputs, work, valid, pre_present)
    replies = reply_rows(work, capture_status=cap, sr=sr)
    first_row = next((r for w, r in zip(work, replies, strict=True) if w is first), None)
    t_rows = turn_rows(inputs, sig, turn_answers, onsets)
    figures = attempt_figures(
        inputs,
        first=first,
        first_row=first_row,
        turns=t_rows,
        capture_status=cap,
        full_rms=full_rms,
        work=work,
        recv_t_ns=sig.recv_t_ns,
    )
    incomplete = [
        r.reply_seq
        for r in inputs.replies
        if r.start_recv_t_ns is not None and r.end_recv_t_ns is None
    ]
    reason = None
    if cap == status.REPLY_INCOMPLETE:
        seqs = ", ".join(f"#{s}" for s in incomplete)
        reason = f"reply {seqs} started (reply_start) but never ended (no reply_end)"
    row = AttemptRow(
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
        status_reason=reason,
        codec=inputs.codec,
    )
    return row, first


def reply_slice_audio(inputs: AttemptInputs, row: AttemptRow) -> np.ndarray | None:
    """The first reply's samples of `post_full` (float, as given), for post_rtc_reply.wav."""
    if row.reply_start_sample is None or row.reply_end_sample is None:
        return None
    return np.asarray(inputs.post_full)[row.reply_start_sample : row.reply_end_sample]
