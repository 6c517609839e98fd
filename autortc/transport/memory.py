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

import contextlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field

import numpy as np

from autortc.clock import MONOTONIC, Clock
from autortc.errors import TransportError, UsageError
from autortc.network.jitter_buffer import ReceiveStats
from autortc.network.room import RoomNetwork
from autortc.protocol import is_agent_identity
from autortc.transport import pacing
from autortc.transport.attributes import ATTRIBUTE_ROLES, merge_attributes, validate_attributes
from autortc.transport.base import (
    DataMessage,
    ParticipantEvent,
    ParticipantEventKind,
    ReceivedFrame,
    Role,
)
from autortc.transport.inbox import Inbox
from autortc.transport.memory_publisher import MemoryPublisher

FRAME_NS = pacing.FRAME_NS
INBOX_MAX = 4096
AUDIO_INBOX_MAX = 1000


class MemoryRoomConnection:
    """RoomConnection of one participant of a `MemoryRoom`."""

    def __init__(self, room: MemoryRoom, identity: str, role: Role) -> None:
        self.room = room
        self.clock = room.hub.clock
        self._identity = identity
        self._role = role
        self._messages: Inbox[DataMessage] = Inbox(INBOX_MAX)
        self._events: Inbox[ParticipantEvent] = Inbox(INBOX_MAX)
        self._subs: dict[str, list[Inbox[ReceivedFrame]]] = {}
        self.publisher: MemoryPublisher | None = None
        self.own_attributes: dict[str, str] = {}
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

    def receive_stats(self, identity: str) -> ReceiveStats | None:
        return None  # in-process frames cross no network

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
        inbox: Inbox[ReceivedFrame] = Inbox(AUDIO_INBOX_MAX)
        if self._closed:
            inbox.close()
        else:
            self._subs.setdefault(identity, []).append(inbox)
        return self._frames(identity, inbox)

    async def _frames(
        self, identity: str, inbox: Inbox[ReceivedFrame]
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

    async def set_attributes(self, attributes: Mapping[str, str]) -> None:
        update = validate_attributes(attributes)
        if self._role not in ATTRIBUTE_ROLES:
            raise TransportError(
                f"role '{self._role}' may not set its attributes (only the agent may; "
                "LiveKit: its token has no canUpdateOwnMetadata)"
            )
        if self._closed:
            raise TransportError("set_attributes on a closed connection")
        self.own_attributes, changed = merge_attributes(self.own_attributes, update)
        if changed:
            self.room.broadcast_event(self._identity, "attributes_changed", changed=changed)

    def attributes(self, identity: str) -> dict[str, str]:
        conn = self.room.conns.get(identity)
        return {} if conn is None else dict(conn.own_attributes)

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

    def broadcast_event(
        self,
        identity: str,
        kind: ParticipantEventKind,
        *,
        changed: Mapping[str, str] | None = None,
    ) -> None:
        """`kind` about `identity` to everyone else; `changed`: attributes_changed's."""
        ev = ParticipantEvent(
            kind,
            identity,
            is_agent_identity(identity),
            self.hub.clock.now_ns(),
            changed_attributes=dict(changed or {}),
        )
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
        self._workers: dict[str, list[Inbox[MemoryJob]]] = {}
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

    def register(self, agent_name: str) -> Inbox[MemoryJob]:
        inbox: Inbox[MemoryJob] = Inbox(INBOX_MAX)
        self._workers.setdefault(agent_name, []).append(inbox)
        return inbox

    def unregister(self, agent_name: str, inbox: Inbox[MemoryJob]) -> None:
        inbox.close()
        with contextlib.suppress(ValueError):
            self._workers.get(agent_name, []).remove(inbox)


class MemoryTransport:
    """The Transport seam over a `MemoryHub`."""

    name = "memory"

    def __init__(self, hub: MemoryHub) -> None:
        self.hub = hub
        self._connections: list[MemoryRoomConnection] = []
        self._registrations: list[tuple[str, Inbox[MemoryJob]]] = []

    async def create_room(
        self,
        room: str,
        *,
        metadata: str,
        agent_name: str | None = None,
        empty_timeout_s: int = 60,
        max_participants: int = 4,
        network: RoomNetwork | None = None,
    ) -> None:
        if network is not None:
            raise UsageError("a simulated network is for the embedded transport only")
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
