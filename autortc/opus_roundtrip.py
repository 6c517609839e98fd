"""Opus encode -> decode of 48 kHz mono int16 PCM with PyAV's bundled libopus: what a
LiveKit track at a given bitrate does to the agent's voice before any packet is lost.

Used by `scripts/bench_opus_hf.py` to tell how much of `hf_ratio_drop` and
`mel_distance` the codec alone explains (golden/README.md, "Opus and the 4-8 kHz
band"). libwebrtc encodes a mono voice track with the VOIP application and 20 ms
frames; `application` can be changed to compare.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import av
import numpy as np

SAMPLE_RATE_HZ = 48_000
FRAME_SAMPLES = 960  # 20 ms, as WebRTC sends Opus


def opus_roundtrip(
    pcm_i16: np.ndarray, *, bitrate_bps: int, application: str = "voip"
) -> np.ndarray:
    """`pcm_i16` through libopus at `bitrate_bps` and back, as int16 of the same length.
    Like a real track it lags by libopus's 6.5 ms lookahead (312 samples); Ring 1
    aligns that out."""
    enc = av.AudioCodecContext.create("libopus", "w")
    enc.sample_rate = SAMPLE_RATE_HZ
    enc.layout = "mono"
    enc.format = "s16"
    enc.bit_rate = int(bitrate_bps)
    enc.time_base = Fraction(1, SAMPLE_RATE_HZ)
    enc.options = {"application": application, "frame_duration": "20", "vbr": "on"}
    enc.open()
    dec = av.AudioCodecContext.create("libopus", "r")
    dec.sample_rate = SAMPLE_RATE_HZ
    dec.layout = "mono"
    n = len(pcm_i16)
    padded = np.zeros(-(-n // FRAME_SAMPLES) * FRAME_SAMPLES + 2 * FRAME_SAMPLES, np.int16)
    padded[:n] = pcm_i16
    out: list[np.ndarray] = []
    for k in range(0, len(padded), FRAME_SAMPLES):
        frame = av.AudioFrame.from_ndarray(
            padded[k : k + FRAME_SAMPLES].reshape(1, -1), format="s16", layout="mono"
        )
        frame.sample_rate = SAMPLE_RATE_HZ
        frame.pts = k
        for packet in enc.encode(frame):
            out.extend(_decode(dec, packet))
    for packet in enc.encode(None):
        out.extend(_decode(dec, packet))
    decoded = np.concatenate(out) if out else np.zeros(0, np.float32)
    y = decoded[:n]
    if len(y) < n:
        y = np.concatenate([y, np.zeros(n - len(y), y.dtype)])
    if y.dtype.kind == "f":
        y = np.clip(np.round(y * 32767.0), -32768, 32767)
    return y.astype(np.int16)


def _decode(dec: av.AudioCodecContext, packet: av.Packet[Any]) -> list[np.ndarray]:
    return [f.to_ndarray().reshape(-1) for f in dec.decode(packet)]
