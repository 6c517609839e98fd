"""The in-memory transport: rooms in one event loop, no sockets, an injected clock.

    hub = MemoryHub(clock=LoopClock())        # one "server"
    transport = MemoryTransport(hub)          # the Transport seam over it
    conn = await transport.connect(room, "autortc-probe", role="probe")

It implements the seam exactly as the local and LiveKit transports do (one
contract suite runs against all three), and adds what tests need to see:
`MemoryPublisher.sent` keeps every frame that left with its send time. Because it
does no I/O and reads time only from its `Clock` and asyncio's sleeps, whole
conversations (barrier, replies, timeouts) run in virtual time in milliseconds.

Agent dispatch works as on the local transport: `register_worker(name)` yields a
`MemoryJob` per room created with that `agent_name` (round-robin).

Overflow policy: every inbox is bounded; when full, the oldest item is dropped and
counted (`dropped`). A publisher's queue is bounded by `queue_size_ms`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Generic, Literal, TypeVar

import numpy as np

from autortc.audio import FRAME_MS, SAMPLES_PER_FRAME
from autortc.clock import MONOTONIC, Clock
from autortc.errors import TransportError, UsageError
from autortc.protocol import is_agent_identity
from autortc.transport import pacing
from autortc.transport.base import (
    PCM_ENCODING,
    DataMessage,
    ParticipantEvent,
    ReceivedFrame,
    Role,
)

T = TypeVar("T")
FRAME_NS = pacing.FRAME_NS
INBOX_MAX = 4096
AUDIO_INBOX_MAX = 1000


class _Inbox(Generic[T]):
    """Bounded single-consumer queue; drops the oldest item when full; closable."""

    def __init__(self, maxlen: int) -> None:
        self._items: deque[T] = deque()
        self._maxlen = maxlen
        self._ready = asyncio.Event()
        self.closed = False
        self.dropped = 0

    def put(self, item: T) -> None:
        if self.closed:
            return
        if len(self._items) >= self._maxlen:
            self._items.popleft()
            self.dropped += 1
        self._items.append(item)
        self._ready.set()

    def close(self) -> None:
        self.closed = True
        self._ready.set()

    async def get(self) -> T | None:
        while not self._items:
            if self.closed:
                return None
            self._ready.clear()
            await self._ready.wait()
        return self._items.popleft()

    async def iterate(self) -> AsyncIterator[T]:
        while (item := await self.get()) is not None:
            yield item


class MemoryPublisher:
    """AudioPublisher: a bounded queue drained one 10 ms frame per tick on an absolute
    schedule (no drift), like the local transport. Every frame sent is delivered to the
    room's subscribers and kept in `sent` with its send time."""

    encoding = PCM_ENCODING

    def __init__(self, conn: MemoryRoomConnection, *, queue_size_ms: int) -> None:
        self._conn = conn
        self._clock = conn.clock
        self._capacity = max(1, queue_size_ms // FRAME_MS)
        self._queue: deque[tuple[int, np.ndarray]] = deque()
        self._log = pacing.SendLog()
        self._space = asyncio.Event()
        self._has_data = asyncio.Event()
        self._drained = asyncio.Event()
        self._drained.set()
        self._closed = False
        self.sent: list[tuple[int, np.ndarray]] = []
        self.clear_calls = 0
        self._task = asyncio.create_task(self._run(), name=f"memory-publisher-{conn.identity}")

    @property
    def queued_duration_s(self) -> float:
        return len(self._queue) * FRAME_MS / 1000.0

    async def capture_frame(self, pcm: np.ndarray) -> None:
        arr = np.asarray(pcm)
        if arr.dtype != np.int16 or arr.size != SAMPLES_PER_FRAME:
            raise UsageError(
                f"capture_frame expects {SAMPLES_PER_FRAME} int16 samples, "
                f"got {arr.size} of {arr.dtype}"
            )
        while len(self._queue) >= self._capacity and not self._closed:
            self._space.clear()
            await self._space.wait()
        if self._closed:
            raise TransportError("capture_frame on a closed audio publisher")
        self._queue.append((self._log.captured(), arr.reshape(-1).copy()))
        self._drained.clear()
        self._has_data.set()

    def sent_t_ns(self, frame_index: int) -> int | None:
        return self._log.sent_t_ns(frame_index)

    def clear_queue(self) -> None:
        self.clear_calls += 1
        self._queue.clear()
        self._space.set()
        self._drained.set()

    async def wait_for_playout(self) -> None:
        await self._drained.wait()

    def sent_pcm(self) -> np.ndarray:
        return np.concatenate([p for _, p in self.sent]) if self.sent else np.zeros(0, np.int16)

    def mark_closed(self) -> None:
        self._closed = True
        self._queue.clear()
        for ev in (self._space, self._drained, self._has_data):
            ev.set()

    async def aclose(self) -> None:
        self.mark_closed()
        if not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        next_ns = 0
        resumed = True
        while not self._closed:
            if not self._queue:
                self._drained.set()
                self._has_data.clear()
                await self._has_data.wait()
                resumed = True
                continue
            wait_ns, next_ns = pacing.schedule(self._clock.now_ns(), next_ns, resumed=resumed)
            if wait_ns > 0:
                await asyncio.sleep(wait_ns / 1e9)
                continue
            resumed = False
            index, pcm = self._queue.popleft()
            self._space.set()
            t_ns = self._clock.now_ns()
            self._log.sent(index, t_ns)
            self.sent.append((t_ns, pcm))
            self._conn.room.deliver_audio(self._conn.identity, pcm, t_ns)
            next_ns += FRAME_NS
            if not self._queue:
                self._drained.set()


class MemoryRoomConnection:
    """RoomConnection of one participant of a `MemoryRoom`."""

    def __init__(self, room: MemoryRoom, identity: str, role: Role) -> None:
        self.room = room
        self.clock = room.hub.clock
        self._identity = identity
        self._role = role
        self._messages: _Inbox[DataMessage] = _Inbox(INBOX_MAX)
        self._events: _Inbox[ParticipantEvent] = _Inbox(INBOX_MAX)
        self._subs: dict[str, list[_Inbox[ReceivedFrame]]] = {}
        self.publisher: MemoryPublisher | None = None
        self._closed = False

    @property
    def role(self) -> Role:
        return self._role

    @property
    def identity(self) -> str:
        return self._identity

    @property
    def room_name(self) -> str:
        return self.room.name

    @property
    def room_metadata(self) -> str:
        return self.room.metadata

    @property
    def closed(self) -> bool:
        return self._closed

    def remote_identities(self) -> list[str]:
        return [i for i in self.room.conns if i != self._identity]

    def is_agent(self, identity: str) -> bool | None:
        conn = self.room.conns.get(identity)
        return None if conn is None else conn.role == "agent"

    def has_audio_track(self, identity: str) -> bool:
        conn = self.room.conns.get(identity)
        return conn is not None and conn.publisher is not None

    def audio_codec(self, identity: str) -> str | None:
        return "audio/L16" if self.has_audio_track(identity) else None

    async def publish_audio(
        self, *, queue_size_ms: int = 100, max_bitrate_bps: int | None = None
    ) -> MemoryPublisher:
        del max_bitrate_bps  # raw PCM: there is no bitrate to cap
        if self._closed:
            raise TransportError("publish_audio on a closed connection")
        if self._role == "probe":
            raise TransportError("the probe may not publish audio (its grants have no publish)")
        if self.publisher is not None:
            raise TransportError("this participant already publishes its one audio track")
        self.publisher = MemoryPublisher(self, queue_size_ms=queue_size_ms)
        self.room.broadcast_event(self._identity, "track_published")
        return self.publisher

    def subscribe_audio(self, identity: str) -> AsyncIterator[ReceivedFrame]:
        inbox: _Inbox[ReceivedFrame] = _Inbox(AUDIO_INBOX_MAX)
        if self._closed:
            inbox.close()
        else:
            self._subs.setdefault(identity, []).append(inbox)
        return self._frames(identity, inbox)

    async def _frames(
        self, identity: str, inbox: _Inbox[ReceivedFrame]
    ) -> AsyncIterator[ReceivedFrame]:
        try:
            async for frame in inbox.iterate():
                yield frame
        finally:
            inbox.close()
            subs = self._subs.get(identity, [])
            if inbox in subs:
                subs.remove(inbox)

    async def send_message(self, topic: str, payload: bytes) -> None:
        if self._closed:
            raise TransportError("send_message on a closed connection")
        self.room.deliver_message(self._identity, topic, bytes(payload))

    def messages(self) -> AsyncIterator[DataMessage]:
        return self._messages.iterate()

    def participant_events(self) -> AsyncIterator[ParticipantEvent]:
        return self._events.iterate()

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self.publisher is not None:
            await self.publisher.aclose()
        self.room.leave(self)
        self.disconnect()

    def disconnect(self) -> None:
        """The room is gone: end every iterator of this connection."""
        self._closed = True
        if self.publisher is not None:
            self.publisher.mark_closed()
        for inboxes in self._subs.values():
            for inbox in inboxes:
                inbox.close()
        self._messages.close()
        self._events.close()


@dataclass(eq=False)
class MemoryRoom:
    hub: MemoryHub
    name: str
    metadata: str
    max_participants: int = 4
    conns: dict[str, MemoryRoomConnection] = field(default_factory=dict)

    def join(self, identity: str, role: Role) -> MemoryRoomConnection:
        if identity in self.conns:
            raise TransportError(f"identity {identity!r} is already in room {self.name!r}")
        if len(self.conns) >= self.max_participants:
            raise TransportError(f"room {self.name!r} is full")
        conn = MemoryRoomConnection(self, identity, role)
        self.conns[identity] = conn
        self.broadcast_event(identity, "joined")
        return conn

    def leave(self, conn: MemoryRoomConnection) -> None:
        if self.conns.get(conn.identity) is not conn:
            return
        del self.conns[conn.identity]
        self.broadcast_event(conn.identity, "left")
        for other in self.conns.values():
            for inbox in other._subs.pop(conn.identity, []):
                inbox.close()

    def _event(
        self, identity: str, kind: Literal["joined", "left", "track_published"]
    ) -> ParticipantEvent:
        return ParticipantEvent(
            kind, identity, is_agent_identity(identity), self.hub.clock.now_ns()
        )

    def broadcast_event(
        self, identity: str, kind: Literal["joined", "left", "track_published"]
    ) -> None:
        ev = self._event(identity, kind)
        for ident, conn in self.conns.items():
            if ident != identity:
                conn._events.put(ev)

    def deliver_audio(self, sender: str, pcm: np.ndarray, t_ns: int) -> None:
        frame = ReceivedFrame(pcm=pcm, recv_t_ns=t_ns)
        for conn in self.conns.values():
            for inbox in conn._subs.get(sender, []):
                inbox.put(frame)

    def deliver_message(self, sender: str, topic: str, payload: bytes) -> None:
        msg = DataMessage(topic, payload, sender, self.hub.clock.now_ns())
        for ident, conn in self.conns.items():
            if ident != sender:
                conn._messages.put(msg)


@dataclass(frozen=True)
class MemoryJob:
    room: str
    metadata: str
    agent_name: str
    job_id: str


class MemoryHub:
    """The rooms and agent workers of one in-memory "server"."""

    def __init__(self, *, clock: Clock = MONOTONIC) -> None:
        self.clock = clock
        self.rooms: dict[str, MemoryRoom] = {}
        self._workers: dict[str, list[_Inbox[MemoryJob]]] = {}
        self._rr: dict[str, int] = {}
        self._jobs = 0

    def create_room(
        self, name: str, *, metadata: str, agent_name: str | None, max_participants: int
    ) -> None:
        if not name:
            raise TransportError("room name must not be empty")
        if agent_name is not None and not self._workers.get(agent_name):
            raise TransportError(f"no agent worker registered as {agent_name!r}")
        self.rooms.setdefault(name, MemoryRoom(self, name, metadata, max_participants))
        if agent_name is not None:
            workers = self._workers[agent_name]
            k = self._rr.get(agent_name, 0) % len(workers)
            self._rr[agent_name] = k + 1
            self._jobs += 1
            workers[k].put(MemoryJob(name, metadata, agent_name, f"job{self._jobs:06d}"))

    def open_room(self, name: str, *, metadata: str = "", max_participants: int = 4) -> MemoryRoom:
        """Create (or get) a room without dispatch, and return it (tests join it directly)."""
        self.create_room(
            name, metadata=metadata, agent_name=None, max_participants=max_participants
        )
        return self.rooms[name]

    def delete_room(self, name: str) -> None:
        room = self.rooms.pop(name, None)
        if room is None:
            return
        for conn in list(room.conns.values()):
            conn.disconnect()
        room.conns.clear()

    def register(self, agent_name: str) -> _Inbox[MemoryJob]:
        inbox: _Inbox[MemoryJob] = _Inbox(INBOX_MAX)
        self._workers.setdefault(agent_name, []).append(inbox)
        return inbox

    def unregister(self, agent_name: str, inbox: _Inbox[MemoryJob]) -> None:
        inbox.close()
        with contextlib.suppress(ValueError):
            self._workers.get(agent_name, []).remove(inbox)


class MemoryTransport:
    """The Transport seam over a `MemoryHub`."""

    name = "memory"

    def __init__(self, hub: MemoryHub) -> None:
        self.hub = hub
        self._connections: list[MemoryRoomConnection] = []
        self._registrations: list[tuple[str, _Inbox[MemoryJob]]] = []

    async def create_room(
        self,
        room: str,
        *,
        metadata: str,
        agent_name: str | None = None,
        empty_timeout_s: int = 60,
        max_participants: int = 4,
    ) -> None:
        self.hub.create_room(
            room, metadata=metadata, agent_name=agent_name, max_participants=max_participants
        )

    async def delete_room(self, room: str) -> None:
        self.hub.delete_room(room)

    async def list_rooms(self, prefix: str = "") -> list[str]:
        return sorted(r for r in self.hub.rooms if r.startswith(prefix))

    async def connect(self, room: str, identity: str, *, role: Role) -> MemoryRoomConnection:
        found = self.hub.rooms.get(room)
        if found is None:
            raise TransportError(f"join room '{room}' as '{identity}': no such room")
        conn = found.join(identity, role)
        self._connections.append(conn)
        return conn

    def register_worker(self, agent_name: str) -> AsyncIterator[MemoryJob]:
        """Jobs for `agent_name`, one per room created with it; ends on `aclose()`."""
        inbox = self.hub.register(agent_name)
        self._registrations.append((agent_name, inbox))
        return inbox.iterate()

    async def aclose(self) -> None:
        for conn in self._connections:
            await conn.aclose()
        self._connections.clear()
        for name, inbox in self._registrations:
            self.hub.unregister(name, inbox)
        self._registrations.clear()
