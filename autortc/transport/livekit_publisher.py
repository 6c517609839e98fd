"""The agent's or user's audio track on LiveKit: `rtc.AudioSource` behind the seam's
`AudioPublisher` (10 ms int16 frames in; the SDK's queue paces them out)."""

from __future__ import annotations

import numpy as np
from livekit import rtc

from autortc.audio import SAMPLES_PER_FRAME
from autortc.errors import TransportError, UsageError
from autortc.transport.base import AudioEncoding
from autortc.transport.livekit_frames import pcm_to_frame


class LiveKitAudioPublisher:
    """This participant's one audio track (AudioPublisher seam)."""

    def __init__(
        self,
        source: rtc.AudioSource,
        track: rtc.LocalAudioTrack,
        sid: str,
        encoding: AudioEncoding,
    ) -> None:
        self.encoding = encoding
        self._source = source
        self._track = track
        self.track_sid = sid
        self._closed = False

    async def capture_frame(self, pcm: np.ndarray) -> None:
        if len(pcm) != SAMPLES_PER_FRAME:
            raise UsageError(
                f"expected a 10 ms frame of {SAMPLES_PER_FRAME} samples, got {len(pcm)}"
            )
        if self._closed:
            raise TransportError("capture_frame on a closed LiveKit audio track.")
        try:
            await self._source.capture_frame(pcm_to_frame(pcm))
        except Exception as exc:  # the SDK raises a bare Exception with the FFI's error text
            raise TransportError(f"LiveKit capture_frame failed: {exc}.") from None

    @property
    def queued_duration_s(self) -> float:
        return float(self._source.queued_duration)

    def sent_t_ns(self, frame_index: int) -> int | None:
        """Unknown: the SDK's queue is native and reports no send times (the user bot
        falls back to its queue-level estimate)."""
        del frame_index
        return None

    def clear_queue(self) -> None:
        self._source.clear_queue()

    async def wait_for_playout(self) -> None:
        await self._source.wait_for_playout()

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._source.clear_queue()
        await self._source.aclose()
