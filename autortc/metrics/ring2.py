"""Ring 2: latency figures (docs/spec/measurement.md).

- eot_to_first_audio_ms = t(the turn's answer onset at the probe) - eot_left_t_ns, both
  on the host clock. The answer onset is the first agent onset at or after the EoT
  (`ring3.answer_onset`; onsets: `slicing.agent_onsets`, refined to the sample with
  `levels.refine_onset`: first |x| >= max(0.01, 0.25 x frame peak), searched from the
  start of the previous frame), its arrival time by the per-sample convention of
  `inputs.py`. Never negative: an earlier start is a false endpoint (Ring 3).
- agent_eot_to_first_audio_ms = first_frame_published - user_eot (agent clock).
- tts_first_to_publish_ms = first_frame_published - tts_first_audio.
- fast_lane_ttft_ms = llm_first_token - llm_request.
- agent_cancel_ms = cancel_done - barge_in, on the interrupted reply's trace turn.
- barge_in_stop_ms, for a barge-in turn: from its speech_start_left_t_ns to the arrival
  of the last audible sample (mirror rule, `levels.refine_offset`) of the interrupted
  reply (the previous turn's reply). With an event slice the reply's span is
  [slice start, min(slice end, next reply's start)); without events the run that is
  playing at the barge-in, ended by >= 300 ms of non-audible frames.
Trace points are matched to turns by turn_id order: the k-th distinct turn_id (sorted)
is the k-th user turn.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from autortc.metrics import levels
from autortc.metrics.inputs import TracePoint, TurnTiming
from autortc.metrics.slicing import ReplySlice, sample_to_time_ns, time_to_sample

BARGE_IN_END_SILENCE_MS = 300


def trace_by_turn(
    trace: Sequence[TracePoint], turns: Sequence[TurnTiming]
) -> dict[int, dict[str, int]]:
    """{turn_index: {point: t_ns}} (first occurrence of each point in a trace turn)."""
    turn_ids = sorted({p.turn_id for p in trace})
    order = sorted(t.turn_index for t in turns)
    mapping = dict(zip(turn_ids, order, strict=False))
    out: dict[int, dict[str, int]] = {}
    for p in trace:
        ti = mapping.get(p.turn_id)
        if ti is None:
            continue
        out.setdefault(ti, {}).setdefault(p.point, p.t_ns)
    return out


def trace_by_id(trace: Sequence[TracePoint]) -> dict[int, dict[str, int]]:
    """{the agent's turn_id: {point: t_ns}} (first occurrence of each point)."""
    out: dict[int, dict[str, int]] = {}
    for p in trace:
        out.setdefault(p.turn_id, {}).setdefault(p.point, p.t_ns)
    return out


def _diff_ms(points: dict[str, int], later: str, earlier: str) -> float | None:
    if later in points and earlier in points:
        return (points[later] - points[earlier]) / 1e6
    return None


@dataclass(frozen=True)
class TraceLatencies:
    """The agent-clock differences of one turn's trace points (None where a point is missing)."""

    agent_eot_to_first_audio_ms: float | None
    tts_first_to_publish_ms: float | None
    output_wait_ms: float | None
    fast_lane_ttft_ms: float | None


def agent_cancel_ms(points: dict[str, int]) -> float | None:
    """The agent's cancel latency of a reply it interrupted (its trace turn's points)."""
    return _diff_ms(points, "cancel_done", "barge_in")


def starter_cache_hit(points: dict[str, int]) -> int | None:
    """1 when the turn's first audio came from the agent's starter cache; None untraced."""
    if not points:
        return None
    return int("starter_cache_hit" in points)


def trace_latencies(points: dict[str, int]) -> TraceLatencies:
    return TraceLatencies(
        agent_eot_to_first_audio_ms=_diff_ms(points, "first_frame_published", "user_eot"),
        tts_first_to_publish_ms=_diff_ms(points, "first_frame_published", "tts_first_audio"),
        output_wait_ms=_diff_ms(points, "first_frame_published", "output_first_frame"),
        fast_lane_ttft_ms=_diff_ms(points, "llm_first_token", "llm_request"),
    )


@dataclass(frozen=True)
class HopBudget:
    """Where a turn's eot_to_first_audio_ms went, hop by hop (their sum is it, exactly):

    - `user_to_agent_ms`: the EoT leaving the user bot -> its arrival at the agent (found
      in the agent's record of what it heard, agent_in); None when that record is
      missing;
    - `endpointing_ms`: that arrival -> the agent's `user_eot` decision; without the
      arrival, from the EoT leaving the user bot (the inbound hop included);
    - `agent_processing_ms`: `user_eot` -> the reply's first audible sample handed to the
      transport (`first_frame_published` + that sample's offset in what was handed over);
    - `agent_to_probe_ms`: that hand-over -> its arrival at the probe.
    Only for an agent on the harness's host clock (its trace times are host-monotonic).

    A sample's time follows the one convention of `slicing.samples_to_time_ns` on both
    ends: the frame that carries it is stamped when it is handed over (agent) or received
    (probe), and its samples are spread over the 10 ms before that stamp. So hop 3 is the
    time the frame spent in the send queue and the network; with the stamps on
    different conventions it read one frame (10 ms) short, and below 0 on a short queue.
    Frames after the first are taken as handed at real-time pace (the agent's pump).

    The hops are a split of a latency, so none is ever below 0: an agent that decided
    the turn before the EoT left the user bot (a premature endpoint, reported by Ring 3
    as `false_endpoint` when it became audible) has no hop budget for that turn.
    """

    endpointing_ms: float | None
    agent_processing_ms: float | None
    agent_to_probe_ms: float | None
    user_to_agent_ms: float | None = None
    withheld: str | None = None  # why the last two hops are None though both ends are known


NO_HOPS = HopBudget(None, None, None)


def hop_budget(
    points: dict[str, int],
    *,
    eot_left_t_ns: int,
    onset_t_ns: float | None,
    first_audible_offset_s: float | None,
    frame_s: float = 0.01,
    sample_s: float = 1 / 48_000,
    eot_arrived_t_ns: int | None = None,
) -> HopBudget:
    """The hops of one turn (see `HopBudget`); None where a point is missing.
    `eot_arrived_t_ns`: the EoT sample's arrival at the agent (its clock), if known."""
    user_eot = points.get("user_eot")
    published = points.get("first_frame_published")
    if user_eot is None:
        return NO_HOPS
    if user_eot < eot_left_t_ns:
        return NO_HOPS  # decided before the caller finished: no latency to split
    inbound = None
    start_ns = eot_left_t_ns
    if eot_arrived_t_ns is not None and eot_left_t_ns <= eot_arrived_t_ns <= user_eot:
        inbound = (eot_arrived_t_ns - eot_left_t_ns) / 1e6  # else: not a consistent split
        start_ns = eot_arrived_t_ns
    endpointing = (user_eot - start_ns) / 1e6
    if published is None or first_audible_offset_s is None:
        return HopBudget(endpointing, None, None, inbound)
    handed_ns = published + (first_audible_offset_s - (frame_s - sample_s)) * 1e9
    processing = (handed_ns - user_eot) / 1e6
    outbound = None if onset_t_ns is None else (onset_t_ns - handed_ns) / 1e6
    if outbound is not None and outbound < 0:
        # a frame cannot arrive before it was handed over: the pacing assumption failed
        # (frames handed in a burst); the split is not known, only its two ends
        why = (
            f"split withheld: the first audible sample would arrive {-outbound:.1f} ms "
            "before it was handed over (frames handed in a burst, not at real-time pace)"
        )
        return HopBudget(endpointing, None, None, inbound, withheld=why)
    if processing < 0:
        # the first frame went out within a frame of the decision (a starter-cache hit):
        # the per-sample convention dates its first sample before the decision. The
        # split is not known to better than a frame: only its two ends
        why = (
            f"split withheld: the first audible sample is dated {-processing:.1f} ms before "
            "the decision (its frame was handed over within a frame of it)"
        )
        return HopBudget(endpointing, None, None, inbound, withheld=why)
    return HopBudget(endpointing, processing, outbound, inbound)


def barge_in_stop_ms(
    post_full: np.ndarray,
    recv_t_ns: np.ndarray,
    *,
    rms_frames: np.ndarray,
    barge_in: TurnTiming,
    interrupted: ReplySlice | None,
    next_reply_start_sample: int | None,
    sample_rate_hz: int,
) -> float | None:
    """Barge-in speech start -> last audible sample of the interrupted reply, in ms.

    None when the agent was not audible at or after the barge-in within the reply.
    """
    spf = levels.samples_per_frame(sample_rate_hz)
    aud = levels.audible_mask(rms_frames)
    b_sample = time_to_sample(
        barge_in.speech_start_left_t_ns, recv_t_ns, sample_rate_hz=sample_rate_hz
    )
    b_frame = b_sample // spf
    upper = len(post_full)
    if interrupted is not None and interrupted.source == "events":
        lo = interrupted.start_sample // spf
        hi_sample = interrupted.end_sample
        if next_reply_start_sample is not None:
            hi_sample = min(hi_sample, next_reply_start_sample)
        upper = hi_sample
        idx = np.flatnonzero(aud[lo : -(-hi_sample // spf)])
        if idx.size == 0:
            return None
        last = lo + int(idx[-1])
    else:
        quiet = BARGE_IN_END_SILENCE_MS // levels.FRAME_MS
        k = levels.first_true(aud, start=b_frame)
        if k is None or k - b_frame >= quiet:
            return None
        last = k
        i = k
        while i < len(aud) and i - last < quiet:
            if aud[i]:
                last = i
            i += 1
    if last < b_frame:
        return None
    off = levels.refine_offset(post_full, last, sample_rate_hz=sample_rate_hz, upper=upper)
    t = sample_to_time_ns(off, recv_t_ns, sample_rate_hz=sample_rate_hz)
    return (t - barge_in.speech_start_left_t_ns) / 1e6
