"""Injected clocks. Time-dependent logic takes a `Clock`, so tests need no sleeps.

All bots on one host share `time.monotonic_ns()`; latency figures compare only
user-bot and probe timestamps (see shared/spec/protocol.md, Clocks).
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol


class Clock(Protocol):
    def now_ns(self) -> int: ...

    async def sleep_until_ns(self, t_ns: int) -> None: ...


class MonotonicClock:
    """The real clock: `time.monotonic_ns()` and asyncio sleeps."""

    def now_ns(self) -> int:
        return time.monotonic_ns()

    async def sleep_until_ns(self, t_ns: int) -> None:
        delay_s = (t_ns - time.monotonic_ns()) / 1e9
        if delay_s > 0:
            await asyncio.sleep(delay_s)


class FakeClock:
    """A manual clock for tests: `sleep_until_ns` jumps time forward at once."""

    def __init__(self, start_ns: int = 0) -> None:
        self._now_ns = start_ns

    def now_ns(self) -> int:
        return self._now_ns

    def advance_ns(self, delta_ns: int) -> None:
        self._now_ns += delta_ns

    async def sleep_until_ns(self, t_ns: int) -> None:
        self._now_ns = max(self._now_ns, t_ns)
        await asyncio.sleep(0)
