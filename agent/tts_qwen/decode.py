"""Codec frames to 48 kHz int16: incremental (packets) and offline, through one resampler.

Pure over a `DecodeFn` (frames -> 24 kHz float32 samples, 1920 per frame): no torch
here, so the packet arithmetic and the resampling are tested with a fake decoder.

- Incremental: every `packet_tokens` frames, the decoder runs on those frames and up
  to `left_context_tokens` frames before them, and the context's samples are dropped
  (the package's `chunked_decode` with chunk 2). The decoder is causal: while the
  context reaches back to frame 0 (the first 72 + 2 frames), a packet is a prefix of
  the offline computation and differs from it by float32 rounding only; past that,
  the 72-frame window is an approximation of the sliding-window transformer (8 layers
  published, 2 tiny), whose receptive field is layers x 72 frames (figures: engine.py).
- Offline: all frames at once.
- Both: float32 -> int16 (x 32767, rounded, clipped), then 24 -> 48 kHz by one
  `soxr.ResampleStream` (HQ, float64) fed packet by packet at the same boundaries,
  flushed at the end. Equal int16 at 24 kHz gives equal int16 at 48 kHz, so streamed
  vs offline compares the decoder alone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import soxr

from agent.tts_regress_registry import StreamTolerance

CODEC_SAMPLE_RATE_HZ = 24_000
CODEC_SAMPLES_PER_FRAME = 1920  # one 80 ms codec frame (12.5 Hz) at 24 kHz
OUTPUT_SAMPLE_RATE_HZ = 48_000
SOXR_QUALITY = "HQ"
INT16_SCALE = 32767.0
FLOAT32_ROUNDING_LSB = 1  # streamed vs offline int16, up to 74 frames, float32 decoder
WINDOWED_TOLERANCE_LSB = 5  # ... at 48 kHz up to 200 frames (tiny random weights)

# frames (device tensors of 16 codes) -> 24 kHz float samples, CODEC_SAMPLES_PER_FRAME each
DecodeFn = Callable[[Sequence[Any]], np.ndarray]


@dataclass(frozen=True)
class PacketWindow:
    """Packet `[start, end)` decoded from frame `start - context`; keep what follows it."""

    start: int
    end: int
    context: int


def packet_windows(
    n_frames: int, *, packet_tokens: int, left_context_tokens: int
) -> list[PacketWindow]:
    """The packets of `n_frames` frames, the last one possibly shorter."""
    return [
        PacketWindow(s, min(s + packet_tokens, n_frames), min(left_context_tokens, s))
        for s in range(0, n_frames, packet_tokens)
    ]


def stream_tolerance(
    n_frames: int, *, packet_tokens: int, left_context_tokens: int, decoder_dtype: str
) -> StreamTolerance | None:
    """How far the stream may differ from the offline decode of the same codes, and why
    (the figures measured on CPU, engine.py's docstring); None where none was measured."""
    reach = left_context_tokens + packet_tokens
    if n_frames > reach:
        return StreamTolerance(
            WINDOWED_TOLERANCE_LSB,
            f"{n_frames} frames > {reach}: the {left_context_tokens}-frame window approximates "
            "the decoder's sliding-window transformer (up to 5 LSB at 48 kHz measured to 200 "
            "frames, tiny random weights)",
        )
    if decoder_dtype == "float64":
        return StreamTolerance(0, f"bit for bit: {n_frames} frames, every context reaches frame 0")
    if decoder_dtype == "float32":
        return StreamTolerance(
            FLOAT32_ROUNDING_LSB,
            f"{n_frames} frames, every context reaches frame 0: float32 rounding differs with the "
            "window's length (kernel blocking) and flips int16 rounding by 1 LSB",
        )
    return None  # half precision: not measured


def _round_int16(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round(x), -32768, 32767).astype(np.int16)


def to_int16(samples: np.ndarray) -> np.ndarray:
    """Float samples in [-1, 1] to int16: x 32767, rounded half to even, clipped."""
    return _round_int16(np.asarray(samples, dtype=np.float64) * INT16_SCALE)


class PacketDecoder:
    """Frames in, one packet of 24 kHz int16 out every `packet_tokens` frames."""

    def __init__(
        self,
        decode: DecodeFn,
        *,
        packet_tokens: int,
        left_context_tokens: int,
        samples_per_frame: int = CODEC_SAMPLES_PER_FRAME,
    ) -> None:
        self._decode = decode
        self._packet = packet_tokens
        self._context = left_context_tokens
        self._spf = samples_per_frame
        self.frames: list[Any] = []
        self._done = 0  # frames already decoded

    def push(self, frame: Any) -> np.ndarray | None:
        """Add a frame; the packet's PCM when it completes one, else None."""
        self.frames.append(frame)
        if len(self.frames) - self._done < self._packet:
            return None
        return self._emit()

    def flush(self) -> np.ndarray | None:
        """The last, shorter packet's PCM (None when there is none)."""
        return self._emit() if len(self.frames) > self._done else None

    def _emit(self) -> np.ndarray:
        start, end = self._done, len(self.frames)
        context = min(self._context, start)
        wav = self._decode(self.frames[start - context : end])
        self._done = end
        return to_int16(wav[context * self._spf :])


def decode_packets_float(
    decode: DecodeFn,
    frames: Sequence[Any],
    *,
    packet_tokens: int,
    left_context_tokens: int,
    samples_per_frame: int = CODEC_SAMPLES_PER_FRAME,
) -> np.ndarray:
    """The stream's packets before int16, concatenated (to measure the decoder alone)."""
    parts = [
        decode(frames[w.start - w.context : w.end])[w.context * samples_per_frame :]
        for w in packet_windows(
            len(frames), packet_tokens=packet_tokens, left_context_tokens=left_context_tokens
        )
    ]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)


def decode_offline(decode: DecodeFn, frames: Sequence[Any]) -> np.ndarray:
    """All frames at once: 24 kHz int16."""
    return to_int16(decode(frames)) if len(frames) else np.zeros(0, dtype=np.int16)


class Resampler:
    """24 -> 48 kHz int16, incremental (libsoxr HQ, float64)."""

    def __init__(
        self,
        in_rate_hz: int = CODEC_SAMPLE_RATE_HZ,
        out_rate_hz: int = OUTPUT_SAMPLE_RATE_HZ,
    ) -> None:
        self._stream = soxr.ResampleStream(
            in_rate_hz, out_rate_hz, 1, dtype="float64", quality=SOXR_QUALITY
        )

    def chunk(self, pcm: np.ndarray) -> np.ndarray:
        return _round_int16(self._stream.resample_chunk(np.asarray(pcm, dtype=np.float64)))

    def finish(self) -> np.ndarray:
        return _round_int16(self._stream.resample_chunk(np.zeros(0, dtype=np.float64), last=True))


def resample_like_stream(
    pcm: np.ndarray, *, packet_tokens: int, samples_per_frame: int = CODEC_SAMPLES_PER_FRAME
) -> np.ndarray:
    """Offline 24 kHz int16 to 48 kHz, fed in the stream's packet boundaries."""
    r = Resampler()
    step = packet_tokens * samples_per_frame
    parts = [r.chunk(pcm[i : i + step]) for i in range(0, len(pcm), step)]
    parts.append(r.finish())
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int16)
