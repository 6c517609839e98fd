"""The memory transport's audio publisher: a bounded queue drained one 10 ms frame per
tick on the shared pacing schedule, delivering to the room's subscribers."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from autortc.audio import SAMPLES_PER_FRAME
from autortc.errors import UsageError
from autortc.transport.paced_publisher import PacedPublisher

if TYPE_CHECKING:
    from autortc.transport.memory import MemoryRoomConnection


class MemoryPublisher(PacedPublisher[np.ndarray]):
    """AudioPublisher: the shared paced queue (paced_publisher.py), like the local
    transport. Every frame sent is delivered to the room's subscribers and kept in
    `sent` with its send time."""

    def __init__(self, conn: MemoryRoomConnection, *, queue_size_ms: int) -> None:
        self._conn = conn
        self.sent: list[tuple[int, np.ndarray]] = []
        self.clear_calls = 0
        super().__init__(
            queue_size_ms=queue_size_ms,
            clock=conn.clock,
            task_name=f"memory-publisher-{conn.identity}",
        )

    def _frame(self, pcm: np.ndarray) -> np.ndarray:
        arr = np.asarray(pcm)
        if arr.dtype != np.int16 or arr.size != SAMPLES_PER_FRAME:
            raise UsageError(
                f"capture_frame expects {SAMPLES_PER_FRAME} int16 samples, "
                f"got {arr.size} of {arr.dtype}"
            )
        return arr.reshape(-1).copy()

    async def _send(self, index: int, item: np.ndarray) -> None:
        t_ns = self._clock.now_ns()
        self._log.sent(index, t_ns)
        self.sent.append((t_ns, item))
        self._conn.room.deliver_audio(self._conn.identity, item, t_ns)

    def clear_queue(self) -> None:
        self.clear_calls += 1
        super().clear_queue()

    def sent_pcm(self) -> np.ndarray:
        return np.concatenate([p for _, p in self.sent]) if self.sent else np.zeros(0, np.int16)

    def mark_closed(self) -> None:
        self._close_now()
