"""Step 3 of an attempt's analysis (pure): each user turn's answer, and per turn Ring 3
(who talked when) and Ring 2 (latency, the trace and the hop budget) measured to it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from autortc.metrics import arrival, levels, ring2, ring3
from autortc.metrics import registry as M
from autortc.metrics.inputs import AttemptInputs, TurnTiming
from autortc.metrics.registry import Metric
from autortc.metrics.replies import ReplyWork, Signals, rounded
from autortc.metrics.rows import TurnRow, Value
from autortc.metrics.slicing import Onset


@dataclass(frozen=True)
class TurnAnswer:
    """Which reply answered a turn: the first agent onset at or after its EoT."""

    turn: TurnTiming
    onset: Onset | None
    work: ReplyWork | None


def answers(
    turns: Sequence[TurnTiming], onsets: Sequence[Onset], work: Sequence[ReplyWork]
) -> list[TurnAnswer]:
    """Each turn's answer: the first reply that starts (its onset) at or after the EoT and
    before the next turn's first speech sample. A reply the agent framed with events wins
    over unframed sound (a beep right after the EoT is not the answer of an agent that
    speaks the protocol); without events, the first onset is the answer."""
    out = []
    for k, turn in enumerate(turns):
        nxt = turns[k + 1].speech_start_left_t_ns if k + 1 < len(turns) else None
        candidates = ring3.onsets_between(onsets, start_ns=turn.eot_left_t_ns, end_ns=nxt)
        held = [(o, next((w for w in work if w.contains(o.sample)), None)) for o in candidates]
        framed = [(o, w) for o, w in held if w is not None and w.sl.reply_seq is not None]
        onset, holder = (framed or held or [(None, None)])[0]
        out.append(TurnAnswer(turn, onset, holder))
    return out


def _eot_arrival_t_ns(
    inputs: AttemptInputs, turn: TurnTiming, heard: np.ndarray | None, recv: np.ndarray | None
) -> int | None:
    """When turn's EoT sample arrived at a listener that recorded the user track."""
    if heard is None or recv is None or turn.eot_sample_in_input is None:
        return None
    return arrival.arrival_t_ns(
        inputs.input_audio,
        turn.eot_sample_in_input,
        heard,
        recv,
        sample_rate_hz=inputs.sample_rate_hz,
    )


def turn_rows(
    inputs: AttemptInputs,
    sig: Signals,
    turn_answers: Sequence[TurnAnswer],
    onsets: Sequence[Onset],
) -> list[TurnRow]:
    """Step 3: Ring 3 and Ring 2 per user turn."""
    turns = [a.turn for a in turn_answers]
    trace = ring2.trace_by_turn(inputs.agent_trace, turns)
    by_id = ring2.trace_by_id(inputs.agent_trace)
    reply_turn_ids = {r.reply_seq: r.turn_id for r in inputs.replies if r.turn_id is not None}
    audible = ring3.audible_intervals_ns(
        sig.rms_frames, sig.recv_t_ns, sample_rate_hz=sig.sample_rate_hz
    )
    out: list[TurnRow] = []
    prev_points: dict[str, int] = {}
    for i, ans in enumerate(turn_answers):
        turn = ans.turn
        fe, early = ring3.false_endpoint(
            onsets, speech_start_ns=turn.speech_start_left_t_ns, eot_ns=turn.eot_left_t_ns
        )
        values: dict[Metric, Value] = {
            M.EOT_TO_FIRST_AUDIO: None
            if ans.onset is None
            else (ans.onset.t_ns - turn.eot_left_t_ns) / 1e6,
            M.ONSET_SAMPLE: None if ans.onset is None else ans.onset.sample,
            M.FALSE_ENDPOINT: fe,
            M.EARLY_REPLY: early,
            M.UNANSWERED: ring3.unanswered(
                audible,
                eot_ns=turn.eot_left_t_ns,
                within_ms=inputs.reply_within_ms,
                expects_reply=inputs.expects_reply,
            ),
        }
        # the trace of the agent's turn that the answer belongs to (its reply_start
        # names it): an agent may count turns its own way (a mid-utterance pause makes
        # two); else the agent's turns in order
        seq = ans.work.sl.reply_seq if ans.work else None
        answer_turn_id = reply_turn_ids.get(seq) if seq is not None else None
        turn_points = by_id.get(answer_turn_id, {}) if answer_turn_id is not None else {}
        turn_points = turn_points or trace.get(turn.turn_index, {})
        points = ring2.trace_latencies(turn_points)
        hops = ring2.NO_HOPS
        if inputs.agent_on_host_clock:
            hops = ring2.hop_budget(
                turn_points,
                eot_left_t_ns=turn.eot_left_t_ns,
                onset_t_ns=ans.onset.t_ns if ans.onset is not None else None,
                first_audible_offset_s=_first_audible_s(ans.work, sig.sample_rate_hz),
                frame_s=levels.samples_per_frame(sig.sample_rate_hz) / sig.sample_rate_hz,
                sample_s=1 / sig.sample_rate_hz,
                eot_arrived_t_ns=_eot_arrival_t_ns(
                    inputs, turn, inputs.agent_in, inputs.agent_in_recv_t_ns
                ),
            )
        at_probe = _eot_arrival_t_ns(inputs, turn, inputs.post_user, inputs.post_user_recv_t_ns)
        values[M.USER_TO_PROBE] = (
            None if at_probe is None else (at_probe - turn.eot_left_t_ns) / 1e6
        )
        values[M.USER_TO_AGENT] = hops.user_to_agent_ms
        values[M.ENDPOINTING] = hops.endpointing_ms
        values[M.AGENT_PROCESSING] = hops.agent_processing_ms
        values[M.AGENT_TO_PROBE] = hops.agent_to_probe_ms
        values[M.AGENT_EOT_TO_FIRST_AUDIO] = points.agent_eot_to_first_audio_ms
        values[M.TTS_FIRST_TO_PUBLISH] = points.tts_first_to_publish_ms
        values[M.OUTPUT_WAIT] = points.output_wait_ms
        values[M.FAST_LANE_TTFT] = points.fast_lane_ttft_ms
        values[M.STARTER_HIT] = ring2.starter_cache_hit(turn_points)
        values[M.BARGE_IN_STOP] = None
        values[M.AGENT_CANCEL] = None
        exclude = None
        if turn.is_barge_in and i > 0:
            values[M.AGENT_CANCEL] = ring2.agent_cancel_ms(prev_points)
            prev = turn_answers[i - 1].work
            stop_ms = ring2.barge_in_stop_ms(
                sig.post,
                sig.recv_t_ns,
                rms_frames=sig.rms_frames,
                barge_in=turn,
                interrupted=prev.sl if prev else None,
                next_reply_start_sample=ans.work.sl.start_sample if ans.work else None,
                sample_rate_hz=sig.sample_rate_hz,
            )
            values[M.BARGE_IN_STOP] = stop_ms
            if stop_ms is not None:
                start = turn.speech_start_left_t_ns
                exclude = (float(start), start + stop_ms * 1e6)
        values[M.OVERLAP] = ring3.overlap_ms(turn.speech_ns, audible, exclude_ns=exclude)
        prev_points = turn_points
        followed_by_barge_in = i + 1 < len(turn_answers) and turn_answers[i + 1].turn.is_barge_in
        values[M.FALSE_INTERRUPTION] = (
            _false_interruption(ans.work, sig.sample_rate_hz)
            if turn.noisy and not followed_by_barge_in
            else None
        )
        out.append(
            TurnRow(
                turn_index=turn.turn_index,
                is_barge_in=turn.is_barge_in,
                reply_seq=ans.work.sl.reply_seq if ans.work else None,
                figures=rounded(values),
                hop_note=hops.withheld,
            )
        )
    return out


def _first_audible_s(w: ReplyWork | None, sr: int) -> float | None:
    """Where the reply's first audible sample is in what the agent handed over (pre_rtc)."""
    if w is None or w.pre_reply is None:
        return None
    fr = levels.frame_rms(w.pre_reply, sr)
    k = levels.first_true(levels.audible_mask(fr))
    return None if k is None else levels.refine_onset(w.pre_reply, k, sample_rate_hz=sr) / sr


def _false_interruption(w: ReplyWork | None, sr: int) -> int | None:
    if w is None:
        return None
    if w.sl.interrupted:
        return 1
    if w.pre_on_slice is None:
        return 0 if w.sl.interrupted is False else None
    cut = ring3.truncated_ms(w.audio, w.pre_on_slice, sample_rate_hz=sr)
    return int(cut is not None and cut > ring3.TRUNCATION_MS)
