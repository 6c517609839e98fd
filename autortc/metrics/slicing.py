"""The reply slice: which samples of `post_full` are a reply.

Time <-> sample mapping (the convention of `inputs.py`): frame i of `post_full`
holds samples i*spf .. i*spf+spf-1 and was handed to the probe at
`recv_t_ns[i]`; its last sample arrives at that instant, so sample j of frame i
arrives at `recv_t_ns[i] - (spf - 1 - j) / sr`.

Slices:
- **events**: [reply_start recv time, reply_end recv time + 300 ms], both mapped to
  samples (half-open [start, end) in `post_full` samples).
- **energy** (no or incomplete reply events): the first audible run at/after the
  turn's EoT, ended by >= 1.5 s of non-audible frames; the slice runs from the frame
  holding the refined onset to the end of the last audible frame + 300 ms.

Replies are matched to user turns in order: turn t's reply is the first reply
(by reply_seq) not yet taken whose `reply_start` arrived at or after turn t's first
speech sample left the user bot. A welcome played before the user spoke is thus
skipped, and a reply that starts before the EoT (early endpointing) still counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from autortc.metrics import levels
from autortc.metrics.inputs import ReplyEvents, TurnTiming

TAIL_MS = 300
ENERGY_END_SILENCE_MS = 1500


def sample_to_time_ns(n: int, recv_t_ns: np.ndarray, *, sample_rate_hz: int) -> float:
    """Arrival time at the probe (host clock, ns) of sample `n` of `post_full`.

    Outside the recording (n < 0 or past the last frame) the time is extrapolated at
    the nominal rate from the first / last frame.
    """
    return float(samples_to_time_ns(np.asarray([n]), recv_t_ns, sample_rate_hz=sample_rate_hz)[0])


def samples_to_time_ns(
    samples: np.ndarray, recv_t_ns: np.ndarray, *, sample_rate_hz: int
) -> np.ndarray:
    """`sample_to_time_ns` for many samples at once (float64 ns). The one sample -> time
    mapping of AutoRTC: figures, slices and the report's waveforms all use it."""
    spf = levels.samples_per_frame(sample_rate_hz)
    recv = np.asarray(recv_t_ns, dtype=np.float64)
    n = np.asarray(samples, dtype=np.int64)
    i = np.clip(n // spf, 0, len(recv) - 1)
    j = n - i * spf
    return np.asarray(recv[i] - (spf - 1 - j) * 1e9 / sample_rate_hz, dtype=np.float64)


def time_to_sample(t_ns: float, recv_t_ns: np.ndarray, *, sample_rate_hz: int) -> int:
    """Index of the sample of `post_full` that arrived at `t_ns` (inverse of `sample_to_time_ns`).

    The frame is the first one received at or after `t_ns`; inside it the offset follows
    the per-sample convention. A time in a reception gap (before the frame's first
    sample) maps to that frame's first sample; a time before the first frame maps to 0,
    after the last frame to the end of the recording (n_frames * spf).
    """
    spf = levels.samples_per_frame(sample_rate_hz)
    recv = np.asarray(recv_t_ns)
    if len(recv) == 0:
        return 0
    i = int(np.searchsorted(recv, t_ns, side="left"))
    if i >= len(recv):
        return len(recv) * spf
    back = round((float(recv[i]) - float(t_ns)) * sample_rate_hz / 1e9)
    j = min(max(spf - 1 - back, 0), spf - 1)
    return i * spf + j


@dataclass(frozen=True)
class ReplySlice:
    """One reply's span in `post_full` samples, half-open [start_sample, end_sample)."""

    turn_index: int
    reply_seq: int | None
    source: str  # "events" | "energy"
    start_sample: int
    end_sample: int
    search_start_sample: int  # where the first-audible-frame search starts (reply_start or EoT)
    interrupted: bool | None = None
    start_recv_t_ns: int | None = None
    end_recv_t_ns: int | None = None

    @property
    def n_samples(self) -> int:
        return max(self.end_sample - self.start_sample, 0)


def assign_replies(
    replies: Sequence[ReplyEvents], turns: Sequence[TurnTiming]
) -> dict[int, ReplyEvents | None]:
    """Reply events of each turn (by turn_index); None where no reply_start matched."""
    pending = sorted(
        (r for r in replies if r.start_recv_t_ns is not None), key=lambda r: r.reply_seq
    )
    out: dict[int, ReplyEvents | None] = {}
    for turn in sorted(turns, key=lambda t: t.turn_index):
        match = next(
            (r for r in pending if int(r.start_recv_t_ns or 0) >= turn.speech_start_left_t_ns), None
        )
        if match is not None:
            pending.remove(match)
        out[turn.turn_index] = match
    return out


def event_slice(
    ev: ReplyEvents, recv_t_ns: np.ndarray, *, sample_rate_hz: int, n_samples: int
) -> tuple[int, int]:
    """[reply_start, reply_end + 300 ms) in samples; requires both receive times."""
    assert ev.start_recv_t_ns is not None
    assert ev.end_recv_t_ns is not None
    start = time_to_sample(ev.start_recv_t_ns, recv_t_ns, sample_rate_hz=sample_rate_hz)
    end = time_to_sample(
        ev.end_recv_t_ns + TAIL_MS * 1_000_000, recv_t_ns, sample_rate_hz=sample_rate_hz
    )
    start = min(max(start, 0), n_samples)
    return start, min(max(end, start), n_samples)


def energy_slice(
    post_full: np.ndarray,
    *,
    from_sample: int,
    sample_rate_hz: int,
    rms_frames: np.ndarray | None = None,
) -> tuple[int, int] | None:
    """First audible run at/after `from_sample`, ended by >= 1.5 s of non-audible frames."""
    spf = levels.samples_per_frame(sample_rate_hz)
    fr = levels.frame_rms(post_full, sample_rate_hz) if rms_frames is None else rms_frames
    aud = levels.audible_mask(fr)
    k = levels.first_true(aud, start=max(from_sample, 0) // spf)
    if k is None:
        return None
    quiet_frames = ENERGY_END_SILENCE_MS // levels.FRAME_MS
    last = k
    i = k
    while i < len(aud):
        if aud[i]:
            last = i
        elif i - last >= quiet_frames:
            break
        i += 1
    onset = levels.refine_onset(post_full, k, sample_rate_hz=sample_rate_hz, lower=from_sample)
    start = (onset // spf) * spf
    end = min((last + 1) * spf + TAIL_MS * sample_rate_hz // 1000, len(post_full))
    return start, end


def reply_slices(
    post_full: np.ndarray,
    recv_t_ns: np.ndarray,
    *,
    replies: Sequence[ReplyEvents],
    turns: Sequence[TurnTiming],
    sample_rate_hz: int,
) -> list[ReplySlice | None]:
    """One slice per turn (sorted by turn_index); None where no reply could be found."""
    n = len(post_full)
    fr = levels.frame_rms(post_full, sample_rate_hz)
    matched = assign_replies(replies, turns)
    out: list[ReplySlice | None] = []
    for turn in sorted(turns, key=lambda t: t.turn_index):
        ev = matched.get(turn.turn_index)
        if ev is not None and ev.start_recv_t_ns is not None and ev.end_recv_t_ns is not None:
            s, e = event_slice(ev, recv_t_ns, sample_rate_hz=sample_rate_hz, n_samples=n)
            out.append(
                ReplySlice(
                    turn_index=turn.turn_index,
                    reply_seq=ev.reply_seq,
                    source="events",
                    start_sample=s,
                    end_sample=e,
                    search_start_sample=s,
                    interrupted=ev.interrupted,
                    start_recv_t_ns=ev.start_recv_t_ns,
                    end_recv_t_ns=ev.end_recv_t_ns,
                )
            )
            continue
        eot_sample = time_to_sample(turn.eot_left_t_ns, recv_t_ns, sample_rate_hz=sample_rate_hz)
        from_sample = eot_sample
        if ev is not None and ev.start_recv_t_ns is not None:
            from_sample = time_to_sample(
                ev.start_recv_t_ns, recv_t_ns, sample_rate_hz=sample_rate_hz
            )
        found = energy_slice(
            post_full, from_sample=from_sample, sample_rate_hz=sample_rate_hz, rms_frames=fr
        )
        if found is None:
            out.append(None)
            continue
        out.append(
            ReplySlice(
                turn_index=turn.turn_index,
                reply_seq=ev.reply_seq if ev is not None else None,
                source="energy",
                start_sample=found[0],
                end_sample=found[1],
                search_start_sample=from_sample,
                interrupted=ev.interrupted if ev is not None else None,
                start_recv_t_ns=ev.start_recv_t_ns if ev is not None else None,
            )
        )
    return out
