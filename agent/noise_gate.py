"""A noise gate on the agent's input: stationary background noise is not speech.

The reference agent's VAD heard the pink-noise tail of `noise_background` as speech
and answered 600-800 ms after the caller's EoT instead of ~450 ms. The cause is the
input, so the fix is there, as production agents do with noise suppression: each 10 ms
frame whose RMS stays within `open_ratio` of the noise floor is attenuated by
`attenuation_db` before the VAD sees it.

The noise floor is tracked by minimum statistics: the lowest frame RMS over the last
`window_frames` (speech always has noise-only frames between words, so the minimum
follows the noise, not the speech). Digital silence has a floor of 0, so a clean
track passes untouched. The gate holds open for `hold_frames` after a loud frame so
word endings are not clipped. Pure: frames in, frames out.
"""

from __future__ import annotations

from collections import deque

import numpy as np


class NoiseGate:
    def __init__(
        self,
        *,
        window_frames: int = 150,
        open_ratio: float = 2.5,
        attenuation_db: float = 30.0,
        hold_frames: int = 5,
        floor_min_rms: float = 1e-4,
    ) -> None:
        self._recent: deque[float] = deque(maxlen=window_frames)
        self._open_ratio = open_ratio
        self._gain = 10.0 ** (-attenuation_db / 20.0)
        self._hold_frames = hold_frames
        self._floor_min_rms = floor_min_rms
        self._hold = 0
        self.gated_frames = 0

    @property
    def floor_rms(self) -> float:
        return min(self._recent) if self._recent else 0.0

    def process(self, pcm: np.ndarray) -> np.ndarray:
        """One int16 frame in, the same frame (or an attenuated copy) out."""
        x = np.asarray(pcm, dtype=np.float64) / 32768.0
        level = float(np.sqrt(np.mean(x * x))) if len(x) else 0.0
        self._recent.append(level)
        floor = self.floor_rms
        if floor < self._floor_min_rms or level > self._open_ratio * floor:
            self._hold = self._hold_frames
            return pcm
        if self._hold > 0:
            self._hold -= 1
            return pcm
        self.gated_frames += 1
        return np.asarray(np.round(np.asarray(pcm, dtype=np.float64) * self._gain), dtype=np.int16)
