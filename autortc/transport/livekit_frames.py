"""Conversion between AutoRTC's int16 PCM frames and `rtc.AudioFrame`.

On every transport a frame is 10 ms of 48 kHz mono int16 (audio.SAMPLES_PER_FRAME).
`rtc.AudioStream(sample_rate=48000, num_channels=1, frame_size_ms=10)` already
delivers that on the receive side; `FrameRechunker` and `Resampler48k` cover
everything else (odd-sized frames, other rates), using the SDK's own
`rtc.AudioResampler` (libsoxr) rather than a resampler of our own.
"""

from __future__ import annotations

import numpy as np
from livekit import rtc

from autortc.audio import SAMPLE_RATE_HZ, SAMPLES_PER_FRAME
from autortc.errors import UsageError


def pcm_to_frame(pcm: np.ndarray, *, sample_rate_hz: int = SAMPLE_RATE_HZ) -> rtc.AudioFrame:
    """Mono int16 samples -> `rtc.AudioFrame` (the bytes are copied)."""
    arr = np.asarray(pcm)
    if arr.ndim != 1:
        raise UsageError(f"expected mono 1-D PCM, got shape {arr.shape}")
    if arr.dtype != np.int16:
        raise UsageError(f"expected int16 PCM, got {arr.dtype}")
    data = np.ascontiguousarray(arr, dtype="<i2").tobytes()
    return rtc.AudioFrame(data, sample_rate_hz, 1, len(arr))


def frame_to_pcm(frame: rtc.AudioFrame) -> np.ndarray:
    """`rtc.AudioFrame` -> mono int16 samples (a copy). Multi-channel frames are
    downmixed by averaging, so a stereo frame never doubles its length."""
    n = frame.samples_per_channel * frame.num_channels
    samples = np.frombuffer(frame.data, dtype=np.int16, count=n).copy()
    if frame.num_channels == 1:
        return samples
    mixed: np.ndarray = samples.reshape(-1, frame.num_channels).astype(np.float64).mean(axis=1)
    return np.round(mixed).astype(np.int16)


class FrameRechunker:
    """Re-cut a stream of arbitrary-length int16 chunks into exact 10 ms frames.

    Holds fewer than `samples_per_frame` samples between calls; `flush()` pads
    the remainder with zeros (or returns nothing when empty).
    """

    def __init__(self, *, samples_per_frame: int = SAMPLES_PER_FRAME) -> None:
        if samples_per_frame <= 0:
            raise UsageError("samples_per_frame must be > 0")
        self._n = samples_per_frame
        self._pending = np.zeros(0, dtype=np.int16)

    @property
    def pending_samples(self) -> int:
        return len(self._pending)

    def push(self, pcm: np.ndarray) -> list[np.ndarray]:
        buf = np.concatenate([self._pending, np.asarray(pcm, dtype=np.int16)])
        n_full = len(buf) // self._n
        frames = [buf[i * self._n : (i + 1) * self._n].copy() for i in range(n_full)]
        self._pending = buf[n_full * self._n :].copy()
        return frames

    def flush(self) -> list[np.ndarray]:
        if len(self._pending) == 0:
            return []
        out = np.zeros(self._n, dtype=np.int16)
        out[: len(self._pending)] = self._pending
        self._pending = np.zeros(0, dtype=np.int16)
        return [out]


class Resampler48k:
    """`rtc.AudioFrame`s at any one rate -> 48 kHz mono 10 ms int16 frames.

    Uses `rtc.AudioResampler` (libsoxr) when the input rate differs from 48 kHz,
    then `FrameRechunker`. Call `flush()` once at the end of the stream.
    """

    def __init__(
        self,
        input_rate_hz: int,
        *,
        quality: rtc.AudioResamplerQuality = rtc.AudioResamplerQuality.HIGH,
    ) -> None:
        if input_rate_hz <= 0:
            raise UsageError("input_rate_hz must be > 0")
        self.input_rate_hz = input_rate_hz
        self._resampler = (
            None
            if input_rate_hz == SAMPLE_RATE_HZ
            else rtc.AudioResampler(input_rate_hz, SAMPLE_RATE_HZ, num_channels=1, quality=quality)
        )
        self._chunker = FrameRechunker()

    def push(self, frame: rtc.AudioFrame) -> list[np.ndarray]:
        if frame.sample_rate != self.input_rate_hz:
            raise UsageError(
                f"frame at {frame.sample_rate} Hz pushed into a {self.input_rate_hz} Hz resampler"
            )
        mono = frame_to_pcm(frame)
        if self._resampler is None:
            return self._chunker.push(mono)
        out: list[np.ndarray] = []
        for resampled in self._resampler.push(pcm_to_frame(mono, sample_rate_hz=frame.sample_rate)):
            out.extend(self._chunker.push(frame_to_pcm(resampled)))
        return out

    def flush(self) -> list[np.ndarray]:
        out: list[np.ndarray] = []
        if self._resampler is not None:
            for resampled in self._resampler.flush():
                out.extend(self._chunker.push(frame_to_pcm(resampled)))
        out.extend(self._chunker.flush())
        return out
