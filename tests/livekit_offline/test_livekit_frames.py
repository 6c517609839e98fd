"""Frame conversion to and from rtc.AudioFrame, and resampling with rtc.AudioResampler."""

from __future__ import annotations

import numpy as np
import pytest
from livekit import rtc

from autortc.audio import SAMPLE_RATE_HZ, SAMPLES_PER_FRAME
from autortc.errors import UsageError
from autortc.transport.livekit_frames import (
    FrameRechunker,
    Resampler48k,
    frame_to_pcm,
    pcm_to_frame,
)


def _sine(freq_hz: float, rate_hz: int, duration_s: float, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(rate_hz * duration_s)) / rate_hz
    return np.round(amp * 32767 * np.sin(2 * np.pi * freq_hz * t)).astype(np.int16)


def _peak_hz(pcm: np.ndarray, rate_hz: int) -> float:
    spectrum = np.abs(np.fft.rfft(pcm.astype(np.float64) * np.hanning(len(pcm))))
    return float(np.argmax(spectrum) * rate_hz / len(pcm))


def test_pcm_frame_round_trip_is_bit_exact() -> None:
    pcm = np.arange(-240, 240, dtype=np.int16) * 100
    frame = pcm_to_frame(pcm)
    assert (frame.sample_rate, frame.num_channels, frame.samples_per_channel) == (48_000, 1, 480)
    assert np.array_equal(frame_to_pcm(frame), pcm)


def test_pcm_to_frame_rejects_wrong_dtype_and_shape() -> None:
    with pytest.raises(UsageError, match="int16"):
        pcm_to_frame(np.zeros(480, dtype=np.float32))
    with pytest.raises(UsageError, match="mono"):
        pcm_to_frame(np.zeros((480, 2), dtype=np.int16))


def test_stereo_frame_is_downmixed_not_doubled() -> None:
    left = np.full(480, 1000, dtype=np.int16)
    right = np.full(480, 3000, dtype=np.int16)
    interleaved = np.stack([left, right], axis=1).reshape(-1)
    frame = rtc.AudioFrame(interleaved.tobytes(), 48_000, 2, 480)
    mono = frame_to_pcm(frame)
    assert mono.shape == (480,)
    assert np.all(mono == 2000)


def test_rechunker_cuts_odd_chunks_into_exact_frames_and_pads_the_tail() -> None:
    rechunker = FrameRechunker()
    pcm = np.arange(1234, dtype=np.int16)
    frames = rechunker.push(pcm[:700]) + rechunker.push(pcm[700:])
    assert [len(f) for f in frames] == [480, 480]
    assert rechunker.pending_samples == 1234 - 960
    tail = rechunker.flush()
    assert len(tail) == 1
    assert len(tail[0]) == 480
    assert np.array_equal(np.concatenate(frames + tail)[:1234], pcm)
    assert np.all(tail[0][1234 - 960 :] == 0)
    assert rechunker.flush() == []


@pytest.mark.parametrize(("rate_hz", "chunk_ms"), [(16_000, 10), (44_100, 10), (24_000, 20)])
def test_resampler_turns_any_rate_into_48k_10ms_frames_keeping_pitch(
    rate_hz: int, chunk_ms: int
) -> None:
    duration_s = 1.0
    src = _sine(440.0, rate_hz, duration_s)
    chunk = rate_hz * chunk_ms // 1000
    resampler = Resampler48k(rate_hz)
    frames: list[np.ndarray] = []
    for i in range(0, len(src), chunk):
        part = src[i : i + chunk]
        frames += resampler.push(rtc.AudioFrame(part.tobytes(), rate_hz, 1, len(part)))
    frames += resampler.flush()
    assert all(f.shape == (SAMPLES_PER_FRAME,) and f.dtype == np.int16 for f in frames)
    out = np.concatenate(frames)
    # one second in -> one second out (within one frame of padding / filter delay)
    assert abs(len(out) - SAMPLE_RATE_HZ * duration_s) <= SAMPLES_PER_FRAME
    assert _peak_hz(out[4800:-4800], SAMPLE_RATE_HZ) == pytest.approx(440.0, abs=3.0)
    rms_in = np.sqrt(np.mean(src.astype(np.float64) ** 2))
    rms_out = np.sqrt(np.mean(out[4800:-4800].astype(np.float64) ** 2))
    assert rms_out == pytest.approx(rms_in, rel=0.05)


def test_resampler_at_48k_passes_samples_through_bit_exact() -> None:
    src = _sine(1000.0, 48_000, 0.1)
    resampler = Resampler48k(48_000)
    frames = resampler.push(pcm_to_frame(src[:700])) + resampler.push(pcm_to_frame(src[700:]))
    frames += resampler.flush()
    assert np.array_equal(np.concatenate(frames)[: len(src)], src)


def test_resampler_refuses_a_frame_at_another_rate() -> None:
    with pytest.raises(UsageError, match="16000"):
        Resampler48k(16_000).push(pcm_to_frame(np.zeros(480, dtype=np.int16)))
