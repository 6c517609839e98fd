"""Audio constants and WAV I/O shared by every stage.

Frames on every transport are 10 ms of 48 kHz mono int16 PCM (480 samples).
Analysis works on float32 in [-1, 1] (linear full scale 1.0).
"""

from __future__ import annotations

import os
import wave
from pathlib import Path

import numpy as np

from autortc.errors import ArtifactError

SAMPLE_RATE_HZ = 48_000
FRAME_MS = 10
SAMPLES_PER_FRAME = SAMPLE_RATE_HZ * FRAME_MS // 1000  # 480
BYTES_PER_FRAME = SAMPLES_PER_FRAME * 2


def silence_frame() -> np.ndarray:
    return np.zeros(SAMPLES_PER_FRAME, dtype=np.int16)


def to_float(pcm_i16: np.ndarray) -> np.ndarray:
    """int16 PCM -> float32 in [-1, 1)."""
    return (np.asarray(pcm_i16, dtype=np.float32) / 32768.0).astype(np.float32)


def to_int16(x: np.ndarray) -> np.ndarray:
    """float in [-1, 1] -> int16 PCM, clipped (never wraps)."""
    y = np.clip(np.asarray(x, dtype=np.float64) * 32768.0, -32768, 32767)
    return np.round(y).astype(np.int16)


def split_frames(pcm_i16: np.ndarray) -> list[np.ndarray]:
    """Split PCM into 10 ms frames; the last one is zero-padded."""
    pcm = np.asarray(pcm_i16, dtype=np.int16)
    n_frames = -(-len(pcm) // SAMPLES_PER_FRAME)
    padded = np.zeros(n_frames * SAMPLES_PER_FRAME, dtype=np.int16)
    padded[: len(pcm)] = pcm
    return [padded[i * SAMPLES_PER_FRAME : (i + 1) * SAMPLES_PER_FRAME] for i in range(n_frames)]


def write_wav(
    path: str | Path, pcm_i16: np.ndarray, *, sample_rate_hz: int = SAMPLE_RATE_HZ
) -> None:
    """Write mono int16 PCM. Creates parent directories.

    Atomic: the file is written beside its final name and renamed into place, so
    another process (the harness collecting an agent's pre_rtc) never reads half a file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = np.asarray(pcm_i16, dtype="<i2").tobytes()
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with wave.open(str(tmp), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sample_rate_hz)
        w.writeframes(data)
    os.replace(tmp, path)


def read_wav(path: str | Path) -> tuple[np.ndarray, int]:
    """Read a mono int16 WAV. Returns (pcm_i16, sample_rate_hz)."""
    with wave.open(str(path), "rb") as w:
        if w.getnchannels() != 1 or w.getsampwidth() != 2:
            raise ArtifactError(f"{path}: expected mono 16-bit PCM")
        sr = w.getframerate()
        data = w.readframes(w.getnframes())
    return np.frombuffer(data, dtype="<i2").astype(np.int16), sr
