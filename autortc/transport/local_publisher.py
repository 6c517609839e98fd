"""The local transport's AudioPublisher: a bounded queue drained in real time.

`capture_frame` waits while the queue holds `queue_size_ms` of audio, then
enqueues (so `queued_duration_s <= queue_size_ms` after it returns). One sender
task sends a frame every 10 ms against an absolute schedule (no drift from
accumulated sleeps; `pacing.schedule`). If the queue runs empty nothing is sent,
and the next frame leaves at once (or on schedule, never early).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque

import numpy as np

from autortc.audio import FRAME_MS, SAMPLES_PER_FRAME
from autortc.clock import MONOTONIC, Clock
from autortc.errors import TransportError, UsageError
from autortc.transport import local_wire as wire
from autortc.transport import pacing
from autortc.transport.base import PCM_ENCODING

logger = logging.getLogger(__name__)

FRAME_NS = pacing.FRAME_NS
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


class LocalAudioPublisher:
    """Implements base.AudioPublisher over one local room connection."""

    encoding = PCM_ENCODING

    def __init__(
        self,
        writer: asyncio.StreamWriter,
        *,
        queue_size_ms: int,
        name: str,
        clock: Clock = MONOTONIC,
    ) -> None:
        self._writer = writer
        self._clock = clock
        self._capacity = max(1, queue_size_ms // FRAME_MS)
        self._queue: deque[tuple[int, bytes]] = deque()
        self._log = pacing.SendLog()
        self._space = asyncio.Event()
        self._has_data = asyncio.Event()
        self._drained = asyncio.Event()
        self._drained.set()
        self._closed = False
        self.frames_sent = 0
        self._task = asyncio.create_task(self._run(), name=f"autortc-local-publish-{name}")

    @property
    def queued_duration_s(self) -> float:
        return len(self._queue) * FRAME_MS / 1000.0

    async def capture_frame(self, pcm: np.ndarray) -> None:
        data = frame_bytes(pcm)
        while len(self._queue) >= self._capacity and not self._closed:
            self._space.clear()
            await self._space.wait()
        if self._closed:
            raise TransportError("capture_frame on a closed audio publisher")
        self._queue.append((self._log.captured(), data))
        self._drained.clear()
        self._has_data.set()

    def sent_t_ns(self, frame_index: int) -> int | None:
        return self._log.sent_t_ns(frame_index)

    def clear_queue(self) -> None:
        self._queue.clear()
        self._space.set()
        self._drained.set()

    async def wait_for_playout(self) -> None:
        await self._drained.wait()

    def mark_disconnected(self) -> None:
        """The connection is gone: wake every waiter; further captures raise."""
        self._closed = True
        self._queue.clear()
        self._space.set()
        self._drained.set()
        self._has_data.set()

    async def aclose(self) -> None:
        """Stop sending (queued audio is dropped). Idempotent."""
        self.mark_disconnected()
        if not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise asyncio.CancelledError

    async def _run(self) -> None:
        next_send_ns = 0
        resumed = True  # the queue was empty: frames resume at "now" if we are late
        try:
            while not self._closed:
                if not self._queue:
                    self._drained.set()
                    self._has_data.clear()
                    await self._has_data.wait()
                    resumed = True
                    continue
                wait_ns, next_send_ns = pacing.schedule(
                    self._clock.now_ns(), next_send_ns, resumed=resumed
                )
                if wait_ns > 0:
                    await asyncio.sleep(wait_ns / 1e9)
                    continue  # re-check: the queue may have been cleared meanwhile
                resumed = False
                if self._writer.is_closing():
                    break
                index, data = self._queue.popleft()
                # stamped before the write: a process preempted between the two would
                # otherwise stamp its frame after the listener already received it
                self._log.sent(index, self._clock.now_ns())
                self._writer.write(_AUDIO_HEADER + data)
                self.frames_sent += 1
                next_send_ns += FRAME_NS
                self._space.set()
                if not self._queue:
                    self._drained.set()
                if self._writer.transport.get_write_buffer_size() > DRAIN_ABOVE_BYTES:
                    await self._writer.drain()
        except ConnectionError:
            logger.debug("audio publisher: connection lost")
        finally:
            self.mark_disconnected()
