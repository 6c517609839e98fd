"""The local transport's AudioPublisher: the shared paced queue (paced_publisher.py),
sending each 10 ms frame over the room connection's socket (in a room with a network,
two frames to a 20 ms media packet: local_media.py)."""

from __future__ import annotations

import asyncio
import contextlib

import numpy as np

from autortc.audio import SAMPLES_PER_FRAME
from autortc.clock import MONOTONIC, Clock
from autortc.errors import UsageError
from autortc.transport import local_wire as wire
from autortc.transport.base import PCM_ENCODING, AudioEncoding
from autortc.transport.local_media import Packetizer
from autortc.transport.paced_publisher import PacedPublisher

DRAIN_ABOVE_BYTES = 256 * 1024
# a packet's first half waits this long for its second before it leaves padded: long
# enough that a stall inside a reply (a TTS underrun between sentences) never changes
# how its audio is cut into packets, so the same seed meets the same audio
HALF_WAIT_S = 0.2
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
        self.encoding = PCM_ENCODING
        if packetizer is not None and packetizer.codec == "opus":
            self.encoding = AudioEncoding(codec="opus", max_bitrate_bps=packetizer.bitrate_bps)
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
        self._log.sent(index, now_ns, scheduled_ns=self.scheduled_ns)
        if self._packetizer is None:
            self._writer.write(_AUDIO_HEADER + item)
        else:
            # a packet carries its time on the sender's schedule (RTP's media clock):
            # receivers measure transit against it, so a late wake-up here is jitter
            for body in self._packetizer.add(item, self.scheduled_ns, sent_ns=now_ns):
                self._writer.write(wire.pack(wire.KIND_AUDIO, body))
        self.frames_sent += 1

    async def _after_send(self) -> None:
        if self._writer.transport.get_write_buffer_size() > DRAIN_ABOVE_BYTES:
            await self._writer.drain()
        pk = self._packetizer
        if pk is not None and pk.holding and not self._queue:
            # a packet's first half and nothing queued: it leaves padded with silence
            # if its second half does not come in time, not with the next audio
            self._has_data.clear()  # set by the next capture
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(HALF_WAIT_S):
                    await self._has_data.wait()
            if pk.holding and not self._queue:
                for body in pk.flush(self._clock.now_ns()):
                    self._writer.write(wire.pack(wire.KIND_AUDIO, body))

    def mark_disconnected(self) -> None:
        """The connection is gone: wake every waiter; further captures raise."""
        self._close_now()
