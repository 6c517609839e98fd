"""The Qwen engine's pure parts, with no torch: packet arithmetic on a fake causal decoder
with a known receptive field, the frame budget, int16 and resampling, per-call figures,
and the registry's one-line answer where torch is missing."""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest

from agent.tts_engines import make_tts_engine
from agent.tts_qwen.codegen import FramePolicy
from agent.tts_qwen.decode import (
    PacketDecoder,
    PacketWindow,
    Resampler,
    decode_offline,
    decode_packets_float,
    packet_windows,
    resample_like_stream,
    stream_tolerance,
    to_int16,
)
from agent.tts_qwen.graphs import since
from agent.tts_qwen.metrics import call_metrics
from autortc.errors import InputError

SPF = 8  # samples per frame of the fake decoder


def causal_decoder(reach_frames: int) -> Any:
    """A fake decoder: frame i's samples depend on frames i - reach .. i of its input,
    and on nothing else (not on where the window starts)."""

    def decode(frames: Sequence[Any]) -> np.ndarray:
        x = np.asarray(frames, dtype=np.float64)
        out = np.zeros((len(x), SPF))
        for i in range(len(x)):
            ctx = x[max(0, i - reach_frames) : i + 1]
            out[i] = (ctx.sum() + np.arange(SPF)) / 100.0 / (1 + reach_frames)
        return out.reshape(-1)

    return decode


def test_packets_of_two_frames_keep_at_most_72_frames_of_context() -> None:
    windows = packet_windows(77, packet_tokens=2, left_context_tokens=72)
    assert windows[:2] == [PacketWindow(0, 2, 0), PacketWindow(2, 4, 2)]
    assert windows[36] == PacketWindow(72, 74, 72)  # the last that reaches back to frame 0
    assert windows[37] == PacketWindow(74, 76, 72)
    assert windows[-1] == PacketWindow(76, 77, 72)  # a short last packet
    assert packet_windows(0, packet_tokens=2, left_context_tokens=72) == []


def test_streamed_equals_offline_when_the_context_covers_the_decoder_reach() -> None:
    frames = [float(v) for v in np.random.default_rng(3).integers(0, 50, 31)]
    decode = causal_decoder(reach_frames=4)
    offline = decode(frames)
    covered = decode_packets_float(
        decode, frames, packet_tokens=2, left_context_tokens=4, samples_per_frame=SPF
    )
    np.testing.assert_array_equal(covered, offline)
    short = decode_packets_float(
        decode, frames, packet_tokens=2, left_context_tokens=3, samples_per_frame=SPF
    )
    wrong = np.flatnonzero(np.abs(short - offline) > 0) // SPF
    assert wrong.min() == 4  # the first frame whose reach exceeds a 3-frame context


def test_the_packet_decoder_emits_every_second_frame_then_the_rest_on_flush() -> None:
    decode = causal_decoder(reach_frames=2)
    frames = [float(v) for v in range(1, 8)]
    packets = PacketDecoder(decode, packet_tokens=2, left_context_tokens=72, samples_per_frame=SPF)
    out = [packets.push(f) for f in frames]
    assert [o is not None for o in out] == [False, True, False, True, False, True, False]
    tail = packets.flush()
    assert tail is not None
    assert len(tail) == SPF
    assert packets.flush() is None
    streamed = np.concatenate([o for o in out if o is not None] + [tail])
    np.testing.assert_array_equal(streamed, decode_offline(decode, frames))


@pytest.mark.parametrize(
    ("frames", "dtype", "lsb", "says"),
    [
        (74, "float64", 0, "bit for bit: 74 frames"),
        (74, "float32", 1, "float32 rounding"),
        (75, "float64", 5, "75 frames > 74: the 72-frame window approximates"),
        (200, "float32", 5, "200 frames > 74"),
        (11, "bfloat16", None, None),
    ],
)
def test_the_stated_stream_tolerance_follows_the_context_reach_and_the_decoder_dtype(
    frames: int, dtype: str, lsb: int | None, says: str | None
) -> None:
    tol = stream_tolerance(frames, packet_tokens=2, left_context_tokens=72, decoder_dtype=dtype)
    if lsb is None:
        assert tol is None  # not measured: the gate is SKIP, not a guess
        return
    assert tol is not None
    assert tol.max_lsb == lsb
    assert says in tol.reason


def test_int16_is_scaled_by_32767_rounded_and_clipped() -> None:
    pcm = to_int16(np.array([0.0, 0.5, -0.5, 1.0, -1.0, 1.5, -1.5, 1 / 65534]))
    assert pcm.dtype == np.int16
    assert pcm.tolist() == [0, 16384, -16384, 32767, -32767, 32767, -32768, 0]


def test_offline_resampling_in_packet_boundaries_equals_the_stream() -> None:
    t = np.arange(24_000 * 2) / 24_000
    pcm = to_int16(0.3 * np.sin(2 * np.pi * 440 * t))
    stream = Resampler()
    step = 2 * 1920
    parts = [stream.chunk(pcm[i : i + step]) for i in range(0, len(pcm), step)]
    streamed = np.concatenate([*parts, stream.finish()])
    offline = resample_like_stream(pcm, packet_tokens=2)
    np.testing.assert_array_equal(streamed, offline)
    assert len(offline) == 2 * len(pcm)


def test_random_weights_get_a_frame_per_3_bytes_between_8_and_200() -> None:
    policy = FramePolicy()
    assert policy.frames_for("Hello, how can I help you today?", random_weights=True) == 11
    assert policy.frames_for("hi", random_weights=True) == 8
    assert policy.frames_for("x" * 1000, random_weights=True) == 200
    assert policy.frames_for("你好", random_weights=True) == 8  # 6 bytes
    assert policy.frames_for("hello", random_weights=False) == 10  # a cap: 2 per byte


def test_call_metrics_split_the_wall_time_into_codegen_decode_glue_and_consumer() -> None:
    ms = 1_000_000
    m = call_metrics(
        mode="stream",
        weights="RANDOM WEIGHTS (seed 42, tiny)",
        completed=True,
        start_ns=0,
        end_ns=100 * ms,
        first_audio_ns=30 * ms,
        frame_ns=[20 * ms, 10 * ms, 10 * ms],
        decode_ns=25 * ms,
        consumer_ns=15 * ms,
        samples=48_000,
        sample_rate_hz=48_000,
        packets=2,
        graph_fallbacks={"decoder_shape": 2, "code_predictor_shape": 0},
    )
    assert (m.ttfa_ms, m.wall_ms, m.audio_ms) == (30.0, 100.0, 1000.0)
    assert m.codegen_iter_wall_ms == (20.0, 10.0, 10.0)
    assert m.glue_ms == pytest.approx(100 - 15 - 40 - 25)
    assert m.rtf == pytest.approx(0.085)
    assert m.graph_fallbacks == {"decoder_shape": 2}
    assert m.as_dict()["codegen_wall_total_ms"] == 40.0


def test_fallback_counts_are_taken_per_call_between_snapshots() -> None:
    assert since({"a": 2}, {"a": 5, "b": 1}) == {"a": 3, "b": 1}
    assert since({"a": 2}, {"a": 2}) == {}


@pytest.mark.skipif(importlib.util.find_spec("torch") is not None, reason="torch is installed")
def test_without_torch_the_registry_says_to_make_the_qwen_venv() -> None:
    with pytest.raises(InputError, match=r"needs torch and qwen-tts .*make qwen-venv"):
        make_tts_engine("qwen")
