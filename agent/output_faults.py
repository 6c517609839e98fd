"""What happens to a reply "in the network": faults applied after the pre_rtc tee.

`TransportAudioOutput` records exactly what the agent meant to send (pre_rtc) and hands
the publisher what `AfterTee` makes of it. With no defect it is the identity. Pure
apart from its per-reply filter state; frame k is the k-th frame of the current reply.
"""

from __future__ import annotations

import numpy as np
from scipy import signal

from agent.defects import NO_DEFECT, Defect
from autortc.audio import SAMPLE_RATE_HZ, SAMPLES_PER_FRAME

GAP_START_FRAME = 50  # a gap begins 0.5 s into the reply
STOP_AFTER_FRAMES = 100  # stop_mid_reply: the audio stops 1 s in
JITTER_EVERY_FRAMES = 10


class AfterTee:
    def __init__(self, defect: Defect = NO_DEFECT, *, sample_rate_hz: int = SAMPLE_RATE_HZ) -> None:
        self.defect = defect
        self._sos: np.ndarray | None = None
        self._zi: np.ndarray | None = None
        lowpass = defect.number("lowpass_hz")
        if lowpass is not None:
            self._sos = signal.butter(4, lowpass, btype="low", fs=sample_rate_hz, output="sos")
        self._speed = defect.number("speed") or 1.0
        self._phase = 0.0
        self._gap_frames = int((defect.number("gap_ms") or 0) // 10)

    def new_reply(self) -> None:
        self._zi = None if self._sos is None else np.zeros((self._sos.shape[0], 2))
        self._phase = 0.0

    def samples_to_take(self) -> int:
        """Input samples behind the next output frame (more than 480 when sped up)."""
        return int(SAMPLES_PER_FRAME * self._speed + self._phase)

    def took(self, n: int) -> None:
        """The pump took `n` input samples for a frame: carry the fraction left over."""
        self._phase = SAMPLES_PER_FRAME * self._speed + self._phase - n

    def stops_at(self, k: int) -> bool:
        return self.defect.is_("stop_mid_reply") and k >= STOP_AFTER_FRAMES

    def hold_frames(self) -> int:
        """Silent frames the pump plays before a reply's first frame (delay_ms): the reply
        goes out exactly that much later, the send queue as it would have been."""
        hold = self.defect.number("delay_ms")
        return 0 if hold is None else round(hold / 10.0)

    def stall_s(self, k: int) -> float:
        """Before frame k: how long to let the publisher's queue run dry (pace jitter)."""
        jitter = self.defect.number("pace_jitter_ms")
        if jitter is None or k == 0 or k % JITTER_EVERY_FRAMES:
            return 0.0
        return jitter / 1000.0

    def transform(self, k: int, chunk: np.ndarray) -> np.ndarray:
        """The 480-sample int16 frame handed to the publisher for input `chunk`."""
        if self.defect.is_("silent") or (
            self._gap_frames and GAP_START_FRAME <= k < GAP_START_FRAME + self._gap_frames
        ):
            return np.zeros(SAMPLES_PER_FRAME, dtype=np.int16)
        x = np.asarray(chunk, dtype=np.float64)
        if len(x) != SAMPLES_PER_FRAME:  # sped up: squeeze the chunk into one frame
            pos = np.arange(SAMPLES_PER_FRAME) * (len(x) / SAMPLES_PER_FRAME)
            x = np.interp(pos, np.arange(len(x)), x)
        if self._sos is not None:
            if self._zi is None:
                self.new_reply()
            x, self._zi = signal.sosfilt(self._sos, x, zi=self._zi)
        return np.asarray(np.clip(np.round(x), -32768, 32767), dtype=np.int16)
