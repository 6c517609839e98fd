"""Injected clocks. Time-dependent code takes a `Clock`, so tests need no sleeps.

All bots on one host share `time.monotonic_ns()`; latency figures compare only
user-bot and probe timestamps (docs/spec/protocol.md, Clocks).

Waiting is always done with asyncio (`asyncio.sleep`, `asyncio.timeout`), which
follows the event loop's clock. `MonotonicClock` is that clock in production (the
loop's time is `time.monotonic()`); `LoopClock` reads the loop's time itself, so in
a test whose loop runs in virtual time (tests/virtual_time.py) `now_ns()` and every
sleep jump together, and an hour of protocol runs in milliseconds.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol


class Clock(Protocol):
    def now_ns(self) -> int:
        """Monotonic nanoseconds, comparable with the event loop's sleeps."""
        ...


class MonotonicClock:
    """The real clock: `time.monotonic_ns()`, shared by every process on the host."""

    def now_ns(self) -> int:
        return time.monotonic_ns()


class LoopClock:
    """The running event loop's time, in ns (virtual in virtual-time tests)."""

    def now_ns(self) -> int:
        return round(asyncio.get_running_loop().time() * 1e9)


async def sleep_until_ns(clock: Clock, t_ns: int) -> None:
    """Sleep until `clock` reads `t_ns` (at once if it already does)."""
    delay_s = (t_ns - clock.now_ns()) / 1e9
    if delay_s > 0:
        await asyncio.sleep(delay_s)


MONOTONIC = MonotonicClock()
