"""An in-memory room implementing the transport seam (a fake, not a mock).

`FakeRoom.connect(identity)` gives a `FakeRoomConnection` (RoomConnection). Its
`FakePublisher` (AudioPublisher) is a bounded queue drained in real time, one
10 ms frame per tick on an absolute schedule, like the local transport: every
frame sent is delivered to the room's subscribers of that identity and kept in
`sent` with its send time, so tests can see exactly what left the agent.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import AsyncIterator

import numpy as np

from autortc.audio import SAMPLES_PER_FRAME
from autortc.protocol import is_agent_identity
from autortc.transport.base import DataMessage, ParticipantEvent, ReceivedFrame

FRAME_NS = 10_000_000


class FakePublisher:
    def __init__(self, room: FakeRoom, identity: str, *, queue_size_ms: int) -> None:
        self._room = room
        self._identity = identity
        self._capacity = max(1, queue_size_ms // 10)
        self._queue: deque[np.ndarray] = deque()
        self._space = asyncio.Event()
        self._has_data = asyncio.Event()
        self.sent: list[tuple[int, np.ndarray]] = []
        self.clear_calls = 0
        self._task = asyncio.create_task(self._run(), name=f"fake-publisher-{identity}")

    @property
    def queued_duration_s(self) -> float:
        return len(self._queue) * 0.01

    async def capture_frame(self, pcm: np.ndarray) -> None:
        arr = np.asarray(pcm)
        assert arr.dtype == np.int16, arr.dtype
        assert arr.size == SAMPLES_PER_FRAME, arr.size
        while len(self._queue) >= self._capacity:
            self._space.clear()
            await self._space.wait()
        self._queue.append(arr.copy())
        self._has_data.set()

    def clear_queue(self) -> None:
        self.clear_calls += 1
        self._queue.clear()
        self._space.set()

    async def wait_for_playout(self) -> None:
        while self._queue:  # noqa: ASYNC110 - a fake: polling the drain is fine here
            await asyncio.sleep(0.005)

    async def aclose(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _run(self) -> None:
        next_ns = 0
        while True:
            if not self._queue:
                self._has_data.clear()
                await self._has_data.wait()
                next_ns = max(next_ns, time.monotonic_ns())
                continue
            now = time.monotonic_ns()
            if next_ns > now:
                await asyncio.sleep((next_ns - now) / 1e9)
                continue
            if now - next_ns > 10 * FRAME_NS:
                next_ns = now
            pcm = self._queue.popleft()
            self._space.set()
            t_ns = time.monotonic_ns()
            self.sent.append((t_ns, pcm))
            self._room._deliver_audio(self._identity, ReceivedFrame(pcm=pcm, recv_t_ns=t_ns))
            next_ns += FRAME_NS

    def sent_pcm(self) -> np.ndarray:
        return np.concatenate([p for _, p in self.sent]) if self.sent else np.zeros(0, np.int16)


class FakeRoomConnection:
    def __init__(self, room: FakeRoom, identity: str) -> None:
        self._room = room
        self._identity = identity
        self._messages: asyncio.Queue[DataMessage | None] = asyncio.Queue()
        self._events: asyncio.Queue[ParticipantEvent | None] = asyncio.Queue()
        self._subs: list[tuple[str, asyncio.Queue[ReceivedFrame | None]]] = []
        self.publisher: FakePublisher | None = None
        self.closed = False

    @property
    def identity(self) -> str:
        return self._identity

    @property
    def room_name(self) -> str:
        return self._room.name

    @property
    def room_metadata(self) -> str:
        return self._room.metadata

    def remote_identities(self) -> list[str]:
        return [i for i in self._room.conns if i != self._identity]

    def has_audio_track(self, identity: str) -> bool:
        conn = self._room.conns.get(identity)
        return conn is not None and conn.publisher is not None

    async def publish_audio(self, *, queue_size_ms: int = 100) -> FakePublisher:
        assert self.publisher is None
        self.publisher = FakePublisher(self._room, self._identity, queue_size_ms=queue_size_ms)
        self._room._broadcast_event(self._identity, "track_published")
        return self.publisher

    async def subscribe_audio(self, identity: str) -> AsyncIterator[ReceivedFrame]:
        q: asyncio.Queue[ReceivedFrame | None] = asyncio.Queue(maxsize=1000)
        entry = (identity, q)
        self._subs.append(entry)
        try:
            while (frame := await q.get()) is not None:
                yield frame
        finally:
            if entry in self._subs:
                self._subs.remove(entry)

    async def send_message(self, topic: str, payload: bytes) -> None:
        assert not self.closed, "send_message on a closed connection"
        self._room._deliver_message(self._identity, topic, bytes(payload))

    async def messages(self) -> AsyncIterator[DataMessage]:
        while (msg := await self._messages.get()) is not None:
            yield msg

    async def participant_events(self) -> AsyncIterator[ParticipantEvent]:
        while (ev := await self._events.get()) is not None:
            yield ev

    async def aclose(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self.publisher is not None:
            await self.publisher.aclose()
        self._room._leave(self)
        for _, q in self._subs:
            q.put_nowait(None)
        self._messages.put_nowait(None)
        self._events.put_nowait(None)


class FakeRoom:
    def __init__(self, name: str = "room", *, metadata: str = "") -> None:
        self.name = name
        self.metadata = metadata
        self.conns: dict[str, FakeRoomConnection] = {}

    def connect(self, identity: str) -> FakeRoomConnection:
        conn = FakeRoomConnection(self, identity)
        self.conns[identity] = conn
        self._broadcast_event(identity, "joined")
        return conn

    def _leave(self, conn: FakeRoomConnection) -> None:
        self.conns.pop(conn.identity, None)
        self._broadcast_event(conn.identity, "left")
        for other in self.conns.values():
            for ident, q in other._subs:
                if ident == conn.identity:
                    q.put_nowait(None)

    def _broadcast_event(self, identity: str, kind: str) -> None:
        ev = ParticipantEvent(
            kind=kind,  # type: ignore[arg-type]
            identity=identity,
            is_agent=is_agent_identity(identity),
            t_ns=time.monotonic_ns(),
        )
        for ident, conn in self.conns.items():
            if ident != identity:
                conn._events.put_nowait(ev)

    def _deliver_audio(self, identity: str, frame: ReceivedFrame) -> None:
        for conn in self.conns.values():
            for ident, q in conn._subs:
                if ident == identity and not q.full():
                    q.put_nowait(frame)

    def _deliver_message(self, sender: str, topic: str, payload: bytes) -> None:
        msg = DataMessage(
            topic=topic, payload=payload, sender=sender, recv_t_ns=time.monotonic_ns()
        )
        for ident, conn in self.conns.items():
            if ident != sender:
                conn._messages.put_nowait(msg)
