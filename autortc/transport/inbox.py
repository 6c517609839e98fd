"""A bounded single-consumer queue, shared by the local and memory transports: it drops
the oldest item when full (a slow consumer loses old audio, not the newest), and ends
its consumer once closed and empty."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator
from typing import Generic, TypeVar

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
