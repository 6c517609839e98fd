"""The local transport's AudioPublisher: the shared paced queue (paced_publisher.py),
sending each 10 ms frame over the room connection's socket (in a room with a network,
two frames to a 20 ms media packet: local_media.py)."""

from __future__ import annotations

import asyncio

import numpy as np

from autortc.audio import SAMPLES_PER_FRAME
from autortc.clock import MONOTONIC, Clock
from autortc.errors import UsageError
from autortc.transport import local_wire as wire
from autortc.transport.local_media import Packetizer
from autortc.transport.paced_publisher import PacedPublisher

DRAIN_ABOVE_BYTES = 256 * 1024
_AUDIO_HEADER = wire.HEADER.pack(SAMPLES_PER_FRAME * 2, wire.KIND_AUDIO)


def frame_bytes(pcm: np.ndarray) -> bytes:
    """Validate one 10 ms int16 frame and return its little-endian bytes."""
    arr = np.asarray(pcm)
    if arr.dtype != np.int16 or arr.size != SAMPLES_PER_FRAME:
        raise UsageError(
            f"capture_frame expects {SAMPLES_PER_FRAME} int16 samples, "
            f"got {arr.size} of {arr.dtype}"
        )
    return arr.reshape(-1).astype("<i2", copy=False).tobytes()


class LocalAudioPublisher(PacedPublisher[bytes]):
    """Implements base.AudioPublisher over one local room connection."""

    def __init__(
        self,
        writer: asyncio.StreamWriter,
        *,
        queue_size_ms: int,
        name: str,
        clock: Clock = MONOTONIC,
        packetizer: Packetizer | None = None,
    ) -> None:
        self._writer = writer
        self._packetizer = packetizer  # a room with a network: 20 ms media packets
        self.frames_sent = 0
        super().__init__(
            queue_size_ms=queue_size_ms, clock=clock, task_name=f"autortc-local-publish-{name}"
        )

    def _frame(self, pcm: np.ndarray) -> bytes:
        return frame_bytes(pcm)

    def _ready(self) -> bool:
        return not self._writer.is_closing()

    async def _send(self, index: int, item: bytes) -> None:
        # stamped before the write: a process preempted between the two would
        # otherwise stamp its frame after the listener already received it
        now_ns = self._clock.now_ns()
        self._log.sent(index, now_ns)
        if self._packetizer is None:
            self._writer.write(_AUDIO_HEADER + item)
        elif (body := self._packetizer.add(item, now_ns)) is not None:
            self._writer.write(wire.pack(wire.KIND_AUDIO, body))
        self.frames_sent += 1

    async def _after_send(self) -> None:
        if self._writer.transport.get_write_buffer_size() > DRAIN_ABOVE_BYTES:
            await self._writer.drain()

    def mark_disconnected(self) -> None:
        """The connection is gone: wake every waiter; further captures raise."""
        self._close_now()
