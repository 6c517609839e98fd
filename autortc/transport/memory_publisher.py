"""The memory transport's audio publisher: a bounded queue drained one 10 ms frame per
tick on the shared pacing schedule, delivering to the room's subscribers."""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from typing import TYPE_CHECKING

import numpy as np

from autortc.audio import FRAME_MS, SAMPLES_PER_FRAME
from autortc.errors import TransportError, UsageError
from autortc.transport import pacing
from autortc.transport.base import PCM_ENCODING

if TYPE_CHECKING:
    from autortc.transport.memory import MemoryRoomConnection

FRAME_NS = pacing.FRAME_NS


class MemoryPublisher:
    """AudioPublisher: a bounded queue drained one 10 ms frame per tick on an absolute
    schedule (no drift), like the local transport. Every frame sent is delivered to the
    room's subscribers and kept in `sent` with its send time."""

    encoding = PCM_ENCODING

    def __init__(self, conn: MemoryRoomConnection, *, queue_size_ms: int) -> None:
        self._conn = conn
        self._clock = conn.clock
        self._capacity = max(1, queue_size_ms // FRAME_MS)
        self._queue: deque[tuple[int, np.ndarray]] = deque()
        self._log = pacing.SendLog()
        self._space = asyncio.Event()
        self._has_data = asyncio.Event()
        self._drained = asyncio.Event()
        self._drained.set()
        self._closed = False
        self.sent: list[tuple[int, np.ndarray]] = []
        self.clear_calls = 0
        self._task = asyncio.create_task(self._run(), name=f"memory-publisher-{conn.identity}")

    @property
    def queued_duration_s(self) -> float:
        return len(self._queue) * FRAME_MS / 1000.0

    async def capture_frame(self, pcm: np.ndarray) -> None:
        arr = np.asarray(pcm)
        if arr.dtype != np.int16 or arr.size != SAMPLES_PER_FRAME:
            raise UsageError(
                f"capture_frame expects {SAMPLES_PER_FRAME} int16 samples, "
                f"got {arr.size} of {arr.dtype}"
            )
        while len(self._queue) >= self._capacity and not self._closed:
            self._space.clear()
            await self._space.wait()
        if self._closed:
            raise TransportError("capture_frame on a closed audio publisher")
        self._queue.append((self._log.captured(), arr.reshape(-1).copy()))
        self._drained.clear()
        self._has_data.set()

    def sent_t_ns(self, frame_index: int) -> int | None:
        return self._log.sent_t_ns(frame_index)

    def clear_queue(self) -> None:
        self.clear_calls += 1
        self._queue.clear()
        self._space.set()
        self._drained.set()

    async def wait_for_playout(self) -> None:
        await self._drained.wait()

    def sent_pcm(self) -> np.ndarray:
        return np.concatenate([p for _, p in self.sent]) if self.sent else np.zeros(0, np.int16)

    def mark_closed(self) -> None:
        self._closed = True
        self._queue.clear()
        for ev in (self._space, self._drained, self._has_data):
            ev.set()

    async def aclose(self) -> None:
        self.mark_closed()
        if not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        next_ns = 0
        resumed = True
        while not self._closed:
            if not self._queue:
                self._drained.set()
                self._has_data.clear()
                await self._has_data.wait()
                resumed = True
                continue
            wait_ns, next_ns = pacing.schedule(self._clock.now_ns(), next_ns, resumed=resumed)
            if wait_ns > 0:
                await asyncio.sleep(wait_ns / 1e9)
                continue
            resumed = False
            index, pcm = self._queue.popleft()
            self._space.set()
            t_ns = self._clock.now_ns()
            self._log.sent(index, t_ns)
            self.sent.append((t_ns, pcm))
            self._conn.room.deliver_audio(self._conn.identity, pcm, t_ns)
            next_ns += FRAME_NS
            if not self._queue:
                self._drained.set()
