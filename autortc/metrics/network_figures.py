"""Ring 0's network figures: the agent track's jitter buffer at the probe (pure).

- `network_figures`: the buffer's own counts and delays (empty without a network);
- `reply_conceals`: concealment events whose first concealed frame was played inside
  a reply's speech (`speech_span`), and the seconds of those spans (their ratio is
  conceal_rate_per_s). The event times are playout times on the probe's clock, the
  same clock as the recording's frame receive times, so an event maps to the
  recording's frame it was played as. Events in the silence around and between
  replies are inaudible and not counted. None without a network or without a reply.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from autortc.metrics import levels
from autortc.metrics import registry as M
from autortc.metrics.registry import Metric
from autortc.metrics.rows import Value
from autortc.metrics.slicing import time_to_sample
from autortc.network.jitter_buffer import JitterStats

FRAME_MS = 20.0  # the network's packets


def network_figures(stats: Mapping[str, object]) -> dict[Metric, Value]:
    """Ring 0's view of the agent track's jitter buffer at the probe (empty: no network)."""
    s = JitterStats.from_dict(stats) if stats else None
    if s is None:
        return {}
    return {
        M.CONCEAL_EVENTS: s.conceal_events,
        M.CONCEALED_MS: FRAME_MS * s.concealed_frames,
        M.LATE_PACKETS: s.late,
        M.PACKET_JITTER_MS: s.packet_jitter_ms,
        M.JITTER_BUFFER_DELAY_MS: s.buffer_delay_ms,
    }


def speech_span(
    start_sample: int, end_sample: int, pre_on_slice: np.ndarray | None, *, sample_rate_hz: int
) -> tuple[int, int]:
    """The reply's speech in `post_full` samples: from one packet before the first to one
    packet after the last audible frame of what the agent sent (`pre_on_slice`, aligned
    onto the slice), so a lost first or last packet still counts; the whole slice
    without it. The span follows the audio, not the reply events' timing, so the same
    audio and the same fates give the same count."""
    if pre_on_slice is None:
        return start_sample, end_sample
    spf = levels.samples_per_frame(sample_rate_hz)
    aud = np.flatnonzero(levels.audible_mask(levels.frame_rms(pre_on_slice, sample_rate_hz)))
    if aud.size == 0:
        return start_sample, end_sample
    pad = round(FRAME_MS * sample_rate_hz / 1000)  # one packet
    lo = max(start_sample, start_sample + int(aud[0]) * spf - pad)
    hi = min(end_sample, start_sample + (int(aud[-1]) + 1) * spf + pad)
    return lo, max(hi, lo)


def reply_conceals(
    stats: Mapping[str, object],
    spans: Sequence[tuple[int, int]],
    recv_t_ns: np.ndarray,
    *,
    sample_rate_hz: int,
) -> tuple[int, float] | None:
    """(concealment events played inside a reply's speech span, seconds of those spans);
    `spans`: half-open [start, end) in `post_full` samples (`speech_span`)."""
    events = stats.get("conceal_event_t_ns") if stats else None
    if not isinstance(events, list) or not spans or len(recv_t_ns) == 0:
        return None
    spans = [(a, b) for a, b in spans if b > a]
    total_s = sum(b - a for a, b in spans) / sample_rate_hz
    if total_s <= 0:
        return None
    at = [time_to_sample(float(t), recv_t_ns, sample_rate_hz=sample_rate_hz) for t in events]
    return sum(1 for n in at if any(a <= n < b for a, b in spans)), total_s
