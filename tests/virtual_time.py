"""Virtual time for asyncio tests (the idea of trio's MockClock(autojump_threshold=0)).

`virtual_time(loop)` patches a running event loop so that whenever no callback is
ready, the loop jumps its clock to the next timer instead of sleeping. Everything that
waits with asyncio (`asyncio.sleep`, `asyncio.timeout`, `call_later`) and reads time
through `autortc.clock.LoopClock` then runs in virtual time: a 15 s barrier timeout
passes in microseconds, in the same order as in real time.

Only for code that does no real I/O and uses no threads (the memory transport, the
bots, the protocol rules): a socket or a thread would see time jump past it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Any


class VirtualClock:
    def __init__(self, start_s: float) -> None:
        self.now_s = start_s
        self.jumps = 0

    def time(self) -> float:
        return self.now_s


@contextlib.contextmanager
def virtual_time(loop: asyncio.AbstractEventLoop) -> Iterator[VirtualClock]:
    clock = VirtualClock(loop.time())
    selector: Any = loop._selector  # type: ignore[attr-defined]
    real_select = selector.select

    def select(timeout: float | None = None) -> Any:
        if timeout is not None and timeout > 0:
            clock.now_s += timeout  # nothing is ready: jump to the next timer
            clock.jumps += 1
            timeout = 0
        return real_select(timeout)

    loop.time = clock.time  # type: ignore[method-assign]
    selector.select = select
    try:
        yield clock
    finally:
        selector.select = real_select
        del loop.time  # back to the class's real clock
