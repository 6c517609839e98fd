"""Ring 3: turn-taking, per user turn, at the caller's ear (docs/spec/measurement.md).

Everything is on the one host clock: user speech is the clean input's speech
segments, at the times those samples left the user bot (send queue included); agent
audio is the audible 10 ms frames of the agent track at the probe, frame i spanning
[recv[i] - 10 ms, recv[i]].

Agent *onsets* are where the agent starts talking: the first audible sample of a
talk spurt. Audible frames closer than `SPURT_MERGE_MS` form one spurt (pauses
between words and sentences are not new onsets), and a spurt is split where a new
reply begins (its `reply_start` event). An onset that lies inside a spurt that began
earlier is not an onset: audio that was already playing when a turn began (a
greeting, or the reply a barge-in interrupts) never counts against that turn.

Per turn t, with window W = [speech_start, EoT) (left-the-user-bot times):
- `false_endpoint`: 1 when an agent onset lies in W; `early_reply_ms` = EoT - the
  first such onset.
- `answer`: the first reply that starts at or after the EoT (and before the next turn's
  first speech sample; `onsets_between`). `eot_to_first_audio_ms` (Ring 2) is measured
  to it, so it is never negative; an earlier reply is a false endpoint, never a fast
  answer.
- `unanswered`: the turn expects a reply and no agent frame is audible in
  (EoT, EoT + within_ms].
- `overlap_ms`: how long user speech and audible agent audio coincide. For a
  barge-in turn the intended overlap, from the barge-in's first speech sample to the
  agent's stop (`barge_in_stop_ms`), is excluded.
- `false_interruption`: in a turn whose only sound after its EoT is noise (and that no
  barge-in follows), a reply answering it ended early: `reply_end.interrupted`, or its
  audio ended more than `TRUNCATION_MS` before the aligned pre_rtc's.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from autortc.metrics import levels
from autortc.metrics.slicing import Onset, samples_to_time_ns, time_to_sample

TRUNCATION_MS = 300
DEFAULT_WITHIN_MS = 5000


def audible_intervals_ns(
    rms_frames: np.ndarray, recv_t_ns: np.ndarray, *, sample_rate_hz: int
) -> list[tuple[float, float]]:
    """Runs of audible frames as host-clock intervals [first sample, last sample]."""
    spf = levels.samples_per_frame(sample_rate_hz)
    n = min(len(rms_frames), len(recv_t_ns))
    out = []
    for s, e in levels.runs(levels.audible_mask(rms_frames[:n])):
        t0, t1 = samples_to_time_ns(
            np.asarray([s * spf, e * spf - 1]), recv_t_ns, sample_rate_hz=sample_rate_hz
        )
        out.append((float(t0), float(t1)))
    return out


def false_endpoint(
    onsets: Sequence[Onset], *, speech_start_ns: int, eot_ns: int
) -> tuple[int, float | None]:
    """(1, early_reply_ms) when the agent started talking inside [speech_start, EoT)."""
    early = [o for o in onsets if speech_start_ns <= o.t_ns < eot_ns]
    if not early:
        return 0, None
    return 1, (eot_ns - early[0].t_ns) / 1e6


def onsets_between(onsets: Sequence[Onset], *, start_ns: int, end_ns: int | None) -> list[Onset]:
    """The onsets in [start, end) (end None: open), in time order: the candidates for a
    turn's answer are those from its EoT to the next turn's first speech sample."""
    return [o for o in onsets if o.t_ns >= start_ns and (end_ns is None or o.t_ns < end_ns)]


def unanswered(
    audible: Sequence[tuple[float, float]], *, eot_ns: int, within_ms: float, expects_reply: bool
) -> int:
    """1 when a turn that expects a reply hears no audible agent audio in (EoT, EoT + within]."""
    if not expects_reply:
        return 0
    end = eot_ns + within_ms * 1e6
    return 0 if any(b > eot_ns and a <= end for a, b in audible) else 1


def overlap_ms(
    speech_ns: Sequence[tuple[int, int]],
    audible: Sequence[tuple[float, float]],
    *,
    exclude_ns: tuple[float, float] | None = None,
) -> float:
    """Total time user speech and agent audio are both audible, minus `exclude_ns`."""
    total = 0.0
    for s0, s1 in speech_ns:
        for a0, a1 in audible:
            lo, hi = max(s0, a0), min(s1, a1)
            if hi <= lo:
                continue
            total += hi - lo
            if exclude_ns is not None:
                elo, ehi = max(lo, exclude_ns[0]), min(hi, exclude_ns[1])
                if ehi > elo:
                    total -= ehi - elo
    return total / 1e6


def truncated_ms(
    post_slice: np.ndarray, pre_on_slice: np.ndarray, *, sample_rate_hz: int
) -> float | None:
    """How much earlier the reply's audio ended at the probe than in the aligned pre_rtc."""

    def last_audible(x: np.ndarray) -> int | None:
        fr = levels.frame_rms(x, sample_rate_hz)
        aud = np.flatnonzero(levels.audible_mask(fr))
        if aud.size == 0:
            return None
        return levels.refine_offset(x, int(aud[-1]), sample_rate_hz=sample_rate_hz)

    post_end, pre_end = last_audible(post_slice), last_audible(pre_on_slice)
    if post_end is None or pre_end is None:
        return None
    return (pre_end - post_end) * 1000.0 / sample_rate_hz


def eot_sample(eot_ns: int, recv_t_ns: np.ndarray, *, sample_rate_hz: int) -> int:
    return time_to_sample(eot_ns, recv_t_ns, sample_rate_hz=sample_rate_hz)
