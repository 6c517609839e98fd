"""The one paced send queue of the local and memory transports' AudioPublishers.

`capture_frame` waits while the queue holds `queue_size_ms` of audio, then enqueues
(so `queued_duration_s <= queue_size_ms` after it returns). One sender task sends a
frame every 10 ms against an absolute schedule (no drift from accumulated sleeps;
`pacing.schedule`). If the queue runs empty nothing is sent, and the next frame leaves
at once (or on schedule, never early). A transport supplies how a frame is prepared
(`_frame`) and sent (`_send`, which stamps its send time in `_log`), and may refuse to
send (`_ready`) or wait after a send (`_after_send`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from typing import Generic, TypeVar

import numpy as np

from autortc.audio import FRAME_MS
from autortc.clock import Clock
from autortc.errors import TransportError
from autortc.transport import pacing
from autortc.transport.base import PCM_ENCODING

logger = logging.getLogger(__name__)

T = TypeVar("T")


class PacedPublisher(Generic[T]):
    encoding = PCM_ENCODING

    def __init__(self, *, queue_size_ms: int, clock: Clock, task_name: str) -> None:
        self._clock = clock
        self._capacity = max(1, queue_size_ms // FRAME_MS)
        self._queue: deque[tuple[int, T]] = deque()
        self._log = pacing.SendLog()
        self.scheduled_ns = 0  # the frame being sent: its time on the 10 ms schedule
        self._space = asyncio.Event()
        self._has_data = asyncio.Event()
        self._drained = asyncio.Event()
        self._drained.set()
        self._closed = False
        self._task = asyncio.create_task(self._run(), name=task_name)

    # -- what a transport supplies ------------------------------------------------------
    def _frame(self, pcm: np.ndarray) -> T:
        raise NotImplementedError

    async def _send(self, index: int, item: T) -> None:
        raise NotImplementedError

    def _ready(self) -> bool:
        return True

    async def _after_send(self) -> None:
        return None

    # -- AudioPublisher -----------------------------------------------------------------
    @property
    def queued_duration_s(self) -> float:
        return len(self._queue) * FRAME_MS / 1000.0

    async def capture_frame(self, pcm: np.ndarray) -> None:
        item = self._frame(pcm)
        while len(self._queue) >= self._capacity and not self._closed:
            self._space.clear()
            await self._space.wait()
        if self._closed:
            raise TransportError("capture_frame on a closed audio publisher")
        self._queue.append((self._log.captured(), item))
        self._drained.clear()
        self._has_data.set()

    def sent_t_ns(self, frame_index: int) -> int | None:
        return self._log.sent_t_ns(frame_index)

    def scheduled_t_ns(self, frame_index: int) -> int | None:
        """When the frame was due on the publisher's 10 ms schedule (None: not sent);
        the embedded network's packets carry it as their media time."""
        return self._log.scheduled_t_ns(frame_index)

    def clear_queue(self) -> None:
        self._queue.clear()
        self._space.set()
        self._drained.set()

    async def wait_for_playout(self) -> None:
        await self._drained.wait()

    def _close_now(self) -> None:
        """Wake every waiter; further captures raise."""
        self._closed = True
        self._queue.clear()
        for ev in (self._space, self._drained, self._has_data):
            ev.set()

    async def aclose(self) -> None:
        """Stop sending (queued audio is dropped). Idempotent."""
        self._close_now()
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
                if not self._ready():
                    break
                index, item = self._queue.popleft()
                self.scheduled_ns = next_send_ns  # the frame's time on the schedule
                await self._send(index, item)
                next_send_ns += pacing.FRAME_NS
                self._space.set()
                if not self._queue:
                    self._drained.set()
                await self._after_send()
        except ConnectionError:
            logger.debug("audio publisher: connection lost")
        finally:
            self._close_now()
