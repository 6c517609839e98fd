"""The calibration agent's decisions (pure): where the EoT sample is in what it heard,
when it arrived (or will), and where in which frame its tone must start.

The agent knows what the user says: the calibration case's turns are plain text with
the default voice, so `case_audio.render_turn` gives the user bot's exact signal and
its EoT sample. What the agent heard is found in it with the harness's own rule
(`arrival.locate`: the last second of speech before a sample, by normalised
cross-correlation), so the agent's "the EoT sample reached me" is the same figure as
the harness's per-hop budget (`user_to_agent_ms`), built once.

Times follow the harness's per-sample convention (metrics/inputs.py): sample j of a
10 ms frame handed over (sent, or received) at t left (arrived) at
t - (479 - j) / 48 kHz.

- `EotLocator`: fed every received frame; `predicted_arrival_t_ns()` is when the EoT
  sample arrives, predicted from an earlier sample (`PREDICT_LEAD_S` before it) and the
  receiver's regular 10 ms frames, so that a tone can start even 0 ms after it;
  `arrival_t_ns()` is when it did arrive, once its frame is in (exact, for the record).
- `tone_offset(target_t_ns, frame_sent_t_ns)`: the sample of a frame sent at
  `frame_sent_t_ns` that leaves at `target_t_ns`, or None when the target is not in it.
"""

from __future__ import annotations

import numpy as np

from autortc.audio import SAMPLE_RATE_HZ, SAMPLES_PER_FRAME
from autortc.metrics import arrival

PREDICT_LEAD_S = 0.4  # predict the EoT's arrival from the sample this long before it
NS_PER_SAMPLE = 1e9 / SAMPLE_RATE_HZ
TONE_HZ = 1000.0
TONE_AMPLITUDE = 0.5
TONE_MS = 300
FRAME_NS = 10_000_000


def arrival_of(index: int, recv_t_ns: list[int]) -> int | None:
    """When sample `index` of the received stream arrived (None: its frame is not in)."""
    frame, j = divmod(index, SAMPLES_PER_FRAME)
    if frame >= len(recv_t_ns):
        return None
    return round(recv_t_ns[frame] - (SAMPLES_PER_FRAME - 1 - j) * NS_PER_SAMPLE)


class EotLocator:
    """Where one user turn's EoT sample is in the received stream (from `start_index`
    on: an earlier turn saying the same words is not taken for it)."""

    def __init__(self, clean: np.ndarray, eot_sample: int, *, start_index: int = 0) -> None:
        self.clean = np.asarray(clean, dtype=np.float64)
        self.eot_sample = eot_sample
        self.start_index = start_index
        self._ref = max(0, eot_sample - round(PREDICT_LEAD_S * SAMPLE_RATE_HZ))
        self._eot_index: int | None = None  # the EoT sample's index in the stream

    def eot_index(self, tail: np.ndarray, tail_start: int) -> int | None:
        """The EoT sample's index in the received stream, found from the reference
        sample as soon as it is in; None until then. `tail` is the stream's latest
        samples (float), from index `tail_start` on (a few seconds are plenty)."""
        if self._eot_index is None:
            found = self._find(self._ref, tail, tail_start)
            if found is not None:
                self._eot_index = found + (self.eot_sample - self._ref)
        return self._eot_index

    def _find(self, sample: int, tail: np.ndarray, tail_start: int) -> int | None:
        skip = max(0, self.start_index - tail_start)
        found = arrival.locate(self.clean, sample, tail[skip:], sample_rate_hz=SAMPLE_RATE_HZ)
        if found is None or found + skip >= len(tail):
            return None
        return tail_start + skip + found

    def predicted_arrival_t_ns(
        self, tail: np.ndarray, tail_start: int, recv_t_ns: list[int]
    ) -> int | None:
        """When the EoT sample arrives: its frame's receive time if in, else the last
        frame's plus 10 ms per frame still to come (the receiver hands frames out at a
        regular pace)."""
        idx = self.eot_index(tail, tail_start)
        if idx is None or not recv_t_ns:
            return None
        frame, j = divmod(idx, SAMPLES_PER_FRAME)
        last = len(recv_t_ns) - 1
        frame_t = recv_t_ns[frame] if frame <= last else recv_t_ns[last] + (frame - last) * FRAME_NS
        return round(frame_t - (SAMPLES_PER_FRAME - 1 - j) * NS_PER_SAMPLE)

    def arrival_t_ns(self, tail: np.ndarray, tail_start: int, recv_t_ns: list[int]) -> int | None:
        """When the EoT sample did arrive, found by the harness's own rule once it is in
        (None: not yet, or not found)."""
        idx = self.eot_index(tail, tail_start)
        if idx is None or idx // SAMPLES_PER_FRAME >= len(recv_t_ns):
            return None
        found = self._find(self.eot_sample, tail, tail_start)
        return arrival_of(idx if found is None else found, recv_t_ns)


def tone_offset(target_t_ns: int, frame_sent_t_ns: int) -> int | None:
    """The sample j of a frame handed over at `frame_sent_t_ns` that leaves at
    `target_t_ns` (j = 479 - (sent - target) / sample period, rounded), or None when
    the target is outside that frame."""
    j = SAMPLES_PER_FRAME - 1 - round((frame_sent_t_ns - target_t_ns) / NS_PER_SAMPLE)
    return j if 0 <= j < SAMPLES_PER_FRAME else None


def departure_t_ns(frame_sent_t_ns: int, offset: int) -> int:
    """When sample `offset` of a frame sent at `frame_sent_t_ns` left."""
    return round(frame_sent_t_ns - (SAMPLES_PER_FRAME - 1 - offset) * NS_PER_SAMPLE)


def tone(n_samples: int = TONE_MS * SAMPLE_RATE_HZ // 1000) -> np.ndarray:
    """The reply: a 1 kHz cosine at full amplitude from its first sample (an onset the
    probe's rule finds on that sample), with a 5 ms fade at its end; int16."""
    t = np.arange(n_samples) / SAMPLE_RATE_HZ
    x = TONE_AMPLITUDE * np.cos(2 * np.pi * TONE_HZ * t)
    fade = min(n_samples, 5 * SAMPLE_RATE_HZ // 1000)
    x[n_samples - fade :] *= np.linspace(1.0, 0.0, fade)
    return np.round(x * 32767).astype(np.int16)
