"""report.html's audio, written beside it as Opus in Ogg (PyAV's bundled libopus) and
linked by relative path, so the page stays small and still opens offline from a CI
artifact zip (the `audio/` folder travels with it).

32 kbps mono Opus holds a voice well for listening; the figures are never computed
from these files (they are a convenience, like the page).
"""

from __future__ import annotations

import re
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from autortc.audio import to_int16

OPUS_RATE_HZ = 48_000
FRAME_SAMPLES = 960  # 20 ms
CHUNK_SAMPLES = 48_000  # handed to PyAV a second at a time (it cuts the 20 ms frames)
LISTEN_BITRATE_BPS = 32_000
AUDIO_DIR = "audio"


def safe_name(*parts: str) -> str:
    """A file name from parts (case id, attempt tag, clip label): [a-z0-9_-] only."""
    return "_".join(re.sub(r"[^A-Za-z0-9_-]+", "-", p).strip("-") for p in parts)


def write_ogg_opus(
    path: Path, samples: np.ndarray, *, sample_rate_hz: int, bitrate_bps: int = LISTEN_BITRATE_BPS
) -> None:
    """Float samples in [-1, 1] at `sample_rate_hz` (48 kHz here) -> an Ogg Opus file."""
    if sample_rate_hz != OPUS_RATE_HZ:
        from scipy.signal import resample_poly

        g = np.gcd(sample_rate_hz, OPUS_RATE_HZ)
        samples = resample_poly(samples, OPUS_RATE_HZ // g, sample_rate_hz // g)
    pcm = to_int16(np.asarray(samples, dtype=np.float64))
    padded = np.zeros(-(-len(pcm) // FRAME_SAMPLES) * FRAME_SAMPLES, np.int16)
    padded[: len(pcm)] = pcm
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w", format="ogg") as container:
        # no codec options: with any, PyAV's libopus ignores bit_rate (52 kbps, not 32)
        stream = container.add_stream("libopus", rate=OPUS_RATE_HZ)
        stream.layout = "mono"
        stream.bit_rate = bitrate_bps
        stream.time_base = Fraction(1, OPUS_RATE_HZ)
        for k in range(0, len(padded), CHUNK_SAMPLES):
            frame = av.AudioFrame.from_ndarray(
                padded[k : k + CHUNK_SAMPLES].reshape(1, -1), format="s16", layout="mono"
            )
            frame.sample_rate = OPUS_RATE_HZ
            frame.pts = k
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
