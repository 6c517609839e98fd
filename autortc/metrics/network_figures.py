"""Ring 0's network figures: the agent track's jitter buffer at the probe (pure).

- `network_figures`: the buffer's own counts and delays (empty without a network);
- `reply_conceals` / `conceal_rate_per_s`: concealment events whose first concealed
  frame was played
  inside a reply slice, per second of reply slices (the event times are playout times
  on the probe's clock, the same clock as the recording's frame receive times, so an
  event maps to the recording's frame it was played as). Events in the silence between
  replies are inaudible and not counted. None without a network or without a reply.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from autortc.metrics import registry as M
from autortc.metrics.registry import Metric
from autortc.metrics.rows import Value
from autortc.metrics.slicing import ReplySlice, time_to_sample
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


def reply_conceals(
    stats: Mapping[str, object],
    slices: Sequence[ReplySlice],
    recv_t_ns: np.ndarray,
    *,
    sample_rate_hz: int,
) -> tuple[int, float] | None:
    """(concealment events played inside a reply slice, seconds of reply slices)."""
    events = stats.get("conceal_event_t_ns") if stats else None
    if not isinstance(events, list) or not slices or len(recv_t_ns) == 0:
        return None
    spans = [(s.start_sample, s.end_sample) for s in slices if s.end_sample > s.start_sample]
    total_s = sum(b - a for a, b in spans) / sample_rate_hz
    if total_s <= 0:
        return None
    at = [time_to_sample(float(t), recv_t_ns, sample_rate_hz=sample_rate_hz) for t in events]
    return sum(1 for n in at if any(a <= n < b for a, b in spans)), total_s


def conceal_rate_per_s(
    stats: Mapping[str, object],
    slices: Sequence[ReplySlice],
    recv_t_ns: np.ndarray,
    *,
    sample_rate_hz: int,
) -> float | None:
    got = reply_conceals(stats, slices, recv_t_ns, sample_rate_hz=sample_rate_hz)
    return None if got is None else got[0] / got[1]
