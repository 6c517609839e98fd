"""The send schedule of a real-time audio publisher (pure), shared by the local and the
memory transports: one frame every 10 ms against an absolute schedule, so sleeps do not
accumulate drift. A frame after an empty queue leaves at once (or on schedule, at most
`EARLY_NS` early). A sender the event loop delayed catches up on its schedule, unless it is over
`MAX_CATCHUP_NS` behind: then the schedule restarts at "now" rather than bursting.
"""

from __future__ import annotations

from autortc.audio import FRAME_MS

FRAME_NS = FRAME_MS * 1_000_000
MAX_CATCHUP_NS = 10 * FRAME_NS
# asyncio wakes a sleeper up to a millisecond late (epoll's timeout is whole ms, rounded
# up): a frame within half a millisecond of its time leaves now, so that sends land
# within about +-0.5 ms of the schedule and on it on average (measured by `autortc
# calibrate`: waking on time or later put every send ~0.5 ms late)
EARLY_NS = 500_000


def schedule(now_ns: int, next_send_ns: int, *, resumed: bool) -> tuple[int, int]:
    """(ns to wait before sending the next frame, that frame's send time).

    `resumed`: the queue was empty since the last frame, so a late frame is not caught
    up on but restarts the schedule."""
    behind_ns = now_ns - next_send_ns
    if behind_ns > (0 if resumed else MAX_CATCHUP_NS):
        return 0, now_ns  # restart the schedule instead of bursting
    if behind_ns < -EARLY_NS:
        return -behind_ns - EARLY_NS, next_send_ns
    return 0, next_send_ns


class SendLog:
    """When each captured frame left: a capture index per frame, in capture order, and
    the send time of each index that was sent (a cleared frame never was)."""

    def __init__(self) -> None:
        self._next = 0
        self._sent_t_ns: dict[int, int] = {}
        self._scheduled_t_ns: dict[int, int] = {}

    def captured(self) -> int:
        """The index of a frame just captured."""
        index = self._next
        self._next += 1
        return index

    def sent(self, index: int, t_ns: int, *, scheduled_ns: int | None = None) -> None:
        self._sent_t_ns[index] = t_ns
        if scheduled_ns is not None:
            self._scheduled_t_ns[index] = scheduled_ns

    def sent_t_ns(self, index: int) -> int | None:
        return self._sent_t_ns.get(index)

    def scheduled_t_ns(self, index: int) -> int | None:
        """Its time on the 10 ms schedule (a sent frame can be up to a wake-up late)."""
        return self._scheduled_t_ns.get(index)
