"""The reply slice: which samples of `post_full` are a reply.

Time <-> sample mapping (the convention of `inputs.py`): frame i of `post_full`
holds samples i*spf .. i*spf+spf-1 and was handed to the probe at
`recv_t_ns[i]`; its last sample arrives at that instant, so sample j of frame i
arrives at `recv_t_ns[i] - (spf - 1 - j) / sr`.

Slices:
- **events**: [reply_start recv time - 100 ms, reply_end recv time + 300 ms], both
  mapped to samples (half-open [start, end) in `post_full` samples) and widened to
  whole frames of the recording. The 100 ms head keeps a first frame that outran its
  `reply_start` message.
- **energy** (no or incomplete reply events): the first audible run at/after the
  turn's EoT, ended by >= 1.5 s of non-audible frames; the slice runs from the frame
  holding the refined onset to the end of the last audible frame + 300 ms.

Every reply gets its own slice (`event_slices`), in the turn in whose span it
started; agent speech that no reply event frames gets an energy slice
(`unframed_slices`). Which reply *answers* a turn is decided by Ring 3 from the audio: the first
agent onset at or after that turn's EoT (a reply that starts before the EoT is a
false endpoint, never the answer).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from autortc.metrics import levels
from autortc.metrics.inputs import ReplyEvents, TurnTiming

TAIL_MS = 300
HEAD_MS = 100
SPURT_MERGE_MS = 600  # longer than any pause inside one reply (max_gap gate: 350 ms)
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


def turn_of(t_ns: float, turns: Sequence[TurnTiming]) -> int:
    """The turn in whose span (its first speech sample .. the next turn's) `t_ns` lies;
    times before the first turn belong to turn 0's index."""
    ordered = sorted(turns, key=lambda t: t.turn_index)
    current = ordered[0].turn_index if ordered else 0
    for turn in ordered:
        if t_ns >= turn.speech_start_left_t_ns:
            current = turn.turn_index
    return current


def event_slice(
    ev: ReplyEvents, recv_t_ns: np.ndarray, *, sample_rate_hz: int, n_samples: int
) -> tuple[int, int]:
    """[reply_start - 100 ms, reply_end + 300 ms) in samples; requires both receive times.

    The head: the message and the audio travel separately, and a reply's first audio
    can reach the probe a little before its `reply_start` (an agent whose send queue
    ran dry hands its first frame straight to the wire)."""
    assert ev.start_recv_t_ns is not None
    assert ev.end_recv_t_ns is not None
    start = time_to_sample(
        ev.start_recv_t_ns - HEAD_MS * 1_000_000, recv_t_ns, sample_rate_hz=sample_rate_hz
    )
    end = time_to_sample(
        ev.end_recv_t_ns + TAIL_MS * 1_000_000, recv_t_ns, sample_rate_hz=sample_rate_hz
    )
    # on the recording's 10 ms frames: the slice's frames (Ring 0's dropouts and gaps)
    # are then the frames the probe received, whatever the messages' own timing was,
    # so the same audio gives the same figures
    spf = levels.samples_per_frame(sample_rate_hz)
    start = min(max(start // spf * spf, 0), n_samples)
    end = -(-end // spf) * spf
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


@dataclass(frozen=True)
class Onset:
    """Where the agent starts talking, at the probe."""

    sample: int  # in post_full
    t_ns: float  # host clock


def agent_onsets(
    post_full: np.ndarray,
    recv_t_ns: np.ndarray,
    *,
    rms_frames: np.ndarray,
    reply_start_samples: Sequence[int],
    sample_rate_hz: int,
) -> list[Onset]:
    """Where the agent starts talking: the first audible sample of each talk spurt.

    Audible frames less than SPURT_MERGE_MS apart form one spurt (pauses between words
    and sentences are not new onsets); a spurt is split where a reply starts (the frame
    holding a `reply_start_samples` entry). Refined to the sample (`levels.refine_onset`),
    except at a split inside continuous audio, where the onset is that frame's start.
    """
    spf = levels.samples_per_frame(sample_rate_hz)
    n = min(len(rms_frames), len(recv_t_ns))
    aud = levels.audible_mask(rms_frames[:n])
    frames = np.flatnonzero(aud)
    if frames.size == 0:
        return []
    merge = SPURT_MERGE_MS // levels.FRAME_MS
    split_frames = sorted({s // spf for s in reply_start_samples})
    starts = [int(frames[0])]
    for prev, cur in itertools.pairwise(frames):
        splits = any(prev < f <= cur for f in split_frames)
        if cur - prev > merge or splits:
            starts.append(int(cur))
    out = []
    for k in starts:
        if k > 0 and aud[k - 1]:
            on = k * spf  # a reply starts inside continuous audio
        else:
            on = levels.refine_onset(post_full, k, sample_rate_hz=sample_rate_hz)
        t = float(samples_to_time_ns(np.asarray([on]), recv_t_ns, sample_rate_hz=sample_rate_hz)[0])
        out.append(Onset(on, t))
    return out


def event_slices(
    post_full: np.ndarray,
    recv_t_ns: np.ndarray,
    *,
    replies: Sequence[ReplyEvents],
    turns: Sequence[TurnTiming],
    sample_rate_hz: int,
) -> list[ReplySlice]:
    """One slice per reply that has a `reply_start`, by reply_seq.

    With its `reply_end` it is an *events* slice; without, it is cut by energy from its
    start (and the attempt is REPLY_INCOMPLETE). Each belongs to the turn in whose span
    it started (`turn_of`).
    """
    n = len(post_full)
    fr = levels.frame_rms(post_full, sample_rate_hz)
    out: list[ReplySlice] = []
    for ev in sorted(replies, key=lambda r: r.reply_seq):
        if ev.start_recv_t_ns is None:
            continue
        turn_index = turn_of(ev.start_recv_t_ns, turns)
        if ev.end_recv_t_ns is not None:
            s, e = event_slice(ev, recv_t_ns, sample_rate_hz=sample_rate_hz, n_samples=n)
            out.append(
                ReplySlice(
                    turn_index=turn_index,
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
        start = time_to_sample(ev.start_recv_t_ns, recv_t_ns, sample_rate_hz=sample_rate_hz)
        found = energy_slice(
            post_full, from_sample=start, sample_rate_hz=sample_rate_hz, rms_frames=fr
        )
        if found is not None:
            out.append(
                ReplySlice(
                    turn_index=turn_index,
                    reply_seq=ev.reply_seq,
                    source="energy",
                    start_sample=found[0],
                    end_sample=found[1],
                    search_start_sample=start,
                    start_recv_t_ns=ev.start_recv_t_ns,
                )
            )
    return out


def unframed_slices(
    post_full: np.ndarray,
    recv_t_ns: np.ndarray,
    *,
    onset_samples: Sequence[int],
    framed: Sequence[ReplySlice],
    turns: Sequence[TurnTiming],
    sample_rate_hz: int,
) -> list[ReplySlice]:
    """*Energy* slices for agent speech that no reply event frames (black-box agents,
    lost events): one per onset at/after the first turn's first speech sample that lies
    in no other slice, ended by >= 1.5 s of silence, or at the next turn's EoT (a reply
    to one turn never runs into the answer to the next)."""
    if not turns:
        return []
    fr = levels.frame_rms(post_full, sample_rate_hz)
    first_speech = min(t.speech_start_left_t_ns for t in turns)
    taken = [(sl.start_sample, sl.end_sample) for sl in framed]
    out: list[ReplySlice] = []
    for onset in sorted(onset_samples):
        if any(a <= onset < b for a, b in taken):
            continue
        t = sample_to_time_ns(onset, recv_t_ns, sample_rate_hz=sample_rate_hz)
        if t < first_speech:
            continue  # a greeting before the user spoke answers no turn
        found = energy_slice(
            post_full, from_sample=onset, sample_rate_hz=sample_rate_hz, rms_frames=fr
        )
        if found is None:
            continue
        later_eots = [x.eot_left_t_ns for x in turns if x.eot_left_t_ns > t]
        if later_eots:
            cap = time_to_sample(min(later_eots), recv_t_ns, sample_rate_hz=sample_rate_hz)
            found = (found[0], max(found[0] + 1, min(found[1], cap)))
        taken.append(found)
        out.append(
            ReplySlice(
                turn_index=turn_of(t, turns),
                reply_seq=None,
                source="energy",
                start_sample=found[0],
                end_sample=found[1],
                search_start_sample=onset,
            )
        )
    return out


def reply_slices(
    post_full: np.ndarray,
    recv_t_ns: np.ndarray,
    *,
    replies: Sequence[ReplyEvents],
    turns: Sequence[TurnTiming],
    sample_rate_hz: int,
    rms_frames: np.ndarray | None = None,
) -> tuple[list[ReplySlice], list[Onset]]:
    """Every reply slice in time order (events first, then unframed speech by energy),
    and the agent's onsets (talk spurts split where a reply starts)."""
    fr = levels.frame_rms(post_full, sample_rate_hz) if rms_frames is None else rms_frames
    framed = event_slices(
        post_full, recv_t_ns, replies=replies, turns=turns, sample_rate_hz=sample_rate_hz
    )
    onsets = agent_onsets(
        post_full,
        recv_t_ns,
        rms_frames=fr,
        reply_start_samples=[sl.search_start_sample for sl in framed],
        sample_rate_hz=sample_rate_hz,
    )
    unframed = unframed_slices(
        post_full,
        recv_t_ns,
        onset_samples=[o.sample for o in onsets],
        framed=framed,
        turns=turns,
        sample_rate_hz=sample_rate_hz,
    )
    return sorted([*framed, *unframed], key=lambda sl: sl.start_sample), onsets
