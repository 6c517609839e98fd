"""A bounded single-consumer queue, shared by the local and memory transports: it drops
the oldest item when full (a slow consumer loses old audio, not the newest), and ends
its consumer once closed and empty. `AudioSubscription`: the local transport's audio
iterator over one."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Generic, TypeVar

from autortc.transport.base import ReceivedFrame

logger = logging.getLogger(__name__)

T = TypeVar("T")


class Inbox(Generic[T]):
    def __init__(self, maxlen: int, what: str = "") -> None:
        self._items: deque[T] = deque()
        self._maxlen = maxlen
        self._what = what
        self._ready = asyncio.Event()
        self.closed = False
        self.dropped = 0

    def put(self, item: T) -> None:
        if self.closed:
            return
        if len(self._items) >= self._maxlen:
            self._items.popleft()
            self.dropped += 1
            if self.dropped == 1 and self._what:
                logger.warning("inbox full: dropping oldest", extra={"inbox": self._what})
        self._items.append(item)
        self._ready.set()

    def close(self) -> None:
        self.closed = True
        self._ready.set()

    async def get(self) -> T | None:
        """The next item, or None once closed and empty."""
        while not self._items:
            if self.closed:
                return None
            self._ready.clear()
            await self._ready.wait()
        return self._items.popleft()

    async def iterate(self) -> AsyncIterator[T]:
        while (item := await self.get()) is not None:
            yield item


class AudioSubscription:
    """Frames of one remote participant's track, in order; ends when it leaves.

    Buffered from creation (bounded, drop-oldest). Unsubscribes on end or `aclose()`.
    A cancelled `__anext__` keeps the subscription: iterating again continues.
    """

    def __init__(
        self,
        identity: str,
        inbox: Inbox[ReceivedFrame],
        release: Callable[[str, Inbox[ReceivedFrame]], None],
    ) -> None:
        self.identity = identity
        self._release_fn: Callable[[str, Inbox[ReceivedFrame]], None] | None = release
        self._inbox = inbox

    @property
    def dropped_frames(self) -> int:
        return self._inbox.dropped

    def __aiter__(self) -> AudioSubscription:
        return self

    async def __anext__(self) -> ReceivedFrame:
        frame = await self._inbox.get()
        if frame is None:
            self._release()
            raise StopAsyncIteration
        return frame

    async def aclose(self) -> None:
        self._release()

    def _release(self) -> None:
        release, self._release_fn = self._release_fn, None
        self._inbox.close()
        if release is not None:
            release(self.identity, self._inbox)

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self._release()
