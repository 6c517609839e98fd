"""Two lanes sharing one engine (a GPU) in the reference agent (issue 14, item 5).

The *fast* lane is latency-critical work (the reply the caller is waiting for); the
*slow* lane is background work that may run only while the engine would otherwise idle.

- `GpuLanes.fast(name)` is an async context manager. The fast lane takes the engine at
  once when it is free. If a slow lease holds it, that lease is preempted: its
  `preempted` event (the `Preemption` token) is set and the fast request waits only until
  the slow work yields (it checks the token between steps and releases). If another fast
  request holds it, fast requests queue FIFO.
- `GpuLanes.try_slow(name)` never waits: it returns a `SlowLease` when the engine is idle
  and no fast request is queued, else None (counted in `slow_refusals`).

Hand-over is direct: a release gives the engine to the first queued fast request before
anything else can run, so a slow `try_slow` can never slip in between. A fast waiter that
is cancelled leaves the queue; one cancelled just after being handed the engine passes it
on to the next. CancelledError is always re-raised. Releasing twice is harmless.

Every grant, wait, preemption, release and refusal is appended to `log` as
`(t_ns, lane, name, what)`, stamped with the injected `Clock`.
"""

from __future__ import annotations

import asyncio
from collections import deque
from types import TracebackType
from typing import Literal, TypeAlias

from autortc.clock import MONOTONIC, Clock

Lane: TypeAlias = Literal["fast", "slow"]
Preemption: TypeAlias = asyncio.Event
"""Set once a fast request wants the engine: the slow work yields at its next step."""

LogEntry: TypeAlias = tuple[int, Lane, str, str]


class _Lease:
    """One grant of the engine; `release()` gives it back, at most once."""

    lane: Lane

    def __init__(self, lanes: GpuLanes, name: str) -> None:
        self._lanes = lanes
        self.name = name
        self.released = False

    def release(self) -> None:
        """Give the engine back (idempotent: a second call does nothing)."""
        if self.released:
            return
        self.released = True
        self._lanes._release(self)


class FastLease(_Lease):
    """The fast lane's hold on the engine, yielded by `async with lanes.fast(name)`."""

    lane: Lane = "fast"


class SlowLease(_Lease):
    """The slow lane's hold on the engine. Check `preempted` between steps and yield."""

    lane: Lane = "slow"

    def __init__(self, lanes: GpuLanes, name: str) -> None:
        super().__init__(lanes, name)
        self.preempted: Preemption = asyncio.Event()

    async def __aenter__(self) -> SlowLease:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


class _FastRequest:
    """`async with lanes.fast(name) as lease`: wait for the engine, release on exit."""

    def __init__(self, lanes: GpuLanes, name: str) -> None:
        self._lanes = lanes
        self._name = name
        self._lease: FastLease | None = None

    async def __aenter__(self) -> FastLease:
        self._lease = await self._lanes._acquire_fast(self._name)
        return self._lease

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._lease is not None:
            self._lease.release()


class GpuLanes:
    """One engine, a preempting fast lane and a best-effort slow lane."""

    def __init__(self, clock: Clock = MONOTONIC) -> None:
        self._clock = clock
        self._holder: FastLease | SlowLease | None = None
        self._waiters: deque[tuple[FastLease, asyncio.Future[None]]] = deque()
        self.preemptions = 0
        self.fast_grants = 0
        self.slow_grants = 0
        self.slow_refusals = 0
        self.log: list[LogEntry] = []

    # -- state ---------------------------------------------------------------------
    @property
    def holder(self) -> FastLease | SlowLease | None:
        """The lease that holds the engine now, if any."""
        return self._holder

    @property
    def fast_waiting(self) -> int:
        """Fast requests queued for the engine."""
        return sum(1 for _, fut in self._waiters if not fut.done())

    # -- the lanes -----------------------------------------------------------------
    def fast(self, name: str) -> _FastRequest:
        """Async context manager: hold the engine for fast work, preempting slow work."""
        return _FastRequest(self, name)

    def try_slow(self, name: str) -> SlowLease | None:
        """The engine for slow work now, or None if it is busy or fast work is queued."""
        if self._holder is not None or self.fast_waiting:
            self.slow_refusals += 1
            self._trace("slow", name, "refused")
            return None
        lease = SlowLease(self, name)
        self._grant(lease)
        return lease

    # -- internals -----------------------------------------------------------------
    def _trace(self, lane: Lane, name: str, what: str) -> None:
        self.log.append((self._clock.now_ns(), lane, name, what))

    def _grant(self, lease: FastLease | SlowLease) -> None:
        self._holder = lease
        if lease.lane == "fast":
            self.fast_grants += 1
        else:
            self.slow_grants += 1
        self._trace(lease.lane, lease.name, "granted")

    async def _acquire_fast(self, name: str) -> FastLease:
        lease = FastLease(self, name)
        if self._holder is None and not self.fast_waiting:
            self._grant(lease)
            return lease
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((lease, fut))
        self._trace("fast", name, "queued")
        holder = self._holder
        if isinstance(holder, SlowLease) and not holder.preempted.is_set():
            holder.preempted.set()
            self.preemptions += 1
            self._trace("slow", holder.name, "preempted")
        try:
            await fut
        except asyncio.CancelledError:
            self._trace("fast", name, "cancelled")
            if fut.done() and not fut.cancelled():
                lease.release()  # handed the engine, then cancelled: pass it on
            else:
                self._drop_waiter(fut)
            raise
        return lease

    def _drop_waiter(self, fut: asyncio.Future[None]) -> None:
        for i, (_, queued) in enumerate(self._waiters):
            if queued is fut:
                del self._waiters[i]
                return

    def _release(self, lease: _Lease) -> None:
        if self._holder is not lease:
            return  # never granted (or already handed on): nothing to give back
        self._trace(lease.lane, lease.name, "released")
        self._holder = None
        while self._waiters:
            nxt, fut = self._waiters.popleft()
            if fut.done():
                continue  # cancelled while queued
            self._grant(nxt)
            fut.set_result(None)
            return
