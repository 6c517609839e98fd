"""metrics.network_figures and the event slice's frame grid: where a reply's concealment
events are counted, on synthetic signals with known answers (issue 13)."""

from __future__ import annotations

import numpy as np

from autortc.metrics.inputs import ReplyEvents
from autortc.metrics.network_figures import reply_conceals, speech_span
from autortc.metrics.slicing import event_slice, time_to_sample

SR = 48_000
SPF = 480  # 10 ms
PACKET = 960  # 20 ms
MS = 1_000_000


def _recv(n_frames: int, t0_ns: int = 1_000 * MS) -> np.ndarray:
    """Frame receive times: one 10 ms frame every 10 ms from t0."""
    return t0_ns + np.arange(1, n_frames + 1, dtype=np.int64) * 10 * MS


def _pre_on_slice() -> np.ndarray:
    """0.3 s of silence, 1 s of tone, 0.5 s of silence (aligned onto a slice)."""
    t = np.arange(SR) / SR
    tone = 0.3 * np.sin(2 * np.pi * 300 * t)
    return np.concatenate([np.zeros(30 * SPF), tone, np.zeros(50 * SPF)])


def test_the_speech_span_runs_a_packet_either_side_of_what_the_agent_sent() -> None:
    start = 4_800
    pre = _pre_on_slice()
    lo, hi = speech_span(start, start + len(pre), pre, sample_rate_hz=SR)
    assert (lo, hi) == (start + 30 * SPF - PACKET, start + 130 * SPF + PACKET)
    # without the agent's record: the whole slice; the span never leaves the slice
    assert speech_span(start, start + len(pre), None, sample_rate_hz=SR) == (
        start,
        start + len(pre),
    )
    lead = np.concatenate([0.3 * np.ones(SPF), np.zeros(SPF)])
    assert speech_span(0, 2 * SPF, lead, sample_rate_hz=SR) == (0, 2 * SPF)


def test_only_events_played_inside_a_speech_span_count() -> None:
    recv = _recv(300)
    spans = [(20 * SPF, 120 * SPF)]  # frames 20..119: 1 s
    frame_t = [int(recv[k]) - 10 * MS + 1 for k in (5, 19, 20, 60, 119, 120, 200)]
    stats: dict[str, object] = {"conceal_event_t_ns": frame_t}
    got = reply_conceals(stats, spans, recv, sample_rate_hz=SR)
    assert got is not None
    count, seconds = got
    assert count == 3  # frames 20, 60 and 119; not 5, 19, 120 or 200
    assert seconds == 1.0
    assert reply_conceals({}, spans, recv, sample_rate_hz=SR) is None  # no network
    assert reply_conceals(stats, [], recv, sample_rate_hz=SR) is None  # no reply


def test_an_event_slice_covers_whole_frames_of_the_recording() -> None:
    """The reply events' receive times fall anywhere inside a frame; the slice is
    widened to the recording's frame grid, so its 10 ms frames are the received ones
    whatever the messages' timing (two runs' slices then differ by whole frames)."""
    recv = _recv(400)
    n = 400 * SPF
    for jitter_ns in (0, 3 * MS + 123, 7 * MS + 999):
        ev = ReplyEvents(
            reply_seq=0,
            start_recv_t_ns=int(recv[100]) + jitter_ns,
            end_recv_t_ns=int(recv[250]) + jitter_ns,
        )
        start, end = event_slice(ev, recv, sample_rate_hz=SR, n_samples=n)
        raw_start = time_to_sample(int(recv[100]) + jitter_ns - 100 * MS, recv, sample_rate_hz=SR)
        raw_end = time_to_sample(int(recv[250]) + jitter_ns + 300 * MS, recv, sample_rate_hz=SR)
        assert start % SPF == 0
        assert end % SPF == 0
        assert raw_start - SPF < start <= raw_start
        assert raw_end <= end < raw_end + SPF
