"""Client of the embedded local room server: `LocalTransport` (see base.py).

`LocalTransport("local://127.0.0.1:PORT")` implements the Transport seam plus
LiveKit-like agent dispatch (`register_worker`). Each RoomConnection is one TCP
connection (TCP_NODELAY) with one reader task; its publisher owns one sender
task that paces frames in real time. In a room with a network, tracks travel as 20 ms
media packets through a jitter buffer (local_media.py).

Receive-side overflow policy: every inbox (messages, participant events, each
audio subscription) is a bounded deque; when full, the oldest item is dropped
and counted (`dropped`), with one warning per inbox. Messages and events are
buffered from the moment the connection is established.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Mapping
from dataclasses import asdict
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from autortc.clock import MONOTONIC, Clock
from autortc.errors import InputError, TransportError, UsageError
from autortc.network import opus
from autortc.network.jitter_buffer import ReceiveStats
from autortc.network.room import RoomNetwork
from autortc.protocol import is_agent_identity
from autortc.transport import local_wire as wire
from autortc.transport.attributes import (
    ATTRIBUTE_ROLES,
    attributes_from_wire,
    merge_attributes,
    validate_attributes,
)
from autortc.transport.base import DataMessage, ParticipantEvent, ReceivedFrame, Role
from autortc.transport.inbox import AudioSubscription, Inbox
from autortc.transport.local_media import MediaSettings, Packetizer, Playout
from autortc.transport.local_publisher import LocalAudioPublisher
from autortc.transport.local_wire import CONNECT_TIMEOUT_S, open_stream, read_reply
from autortc.transport.local_worker import JobRequest, WorkerRegistration

__all__ = ["AudioSubscription", "JobRequest", "LocalRoomConnection", "LocalTransport"]
__all__ += ["WorkerRegistration"]

logger = logging.getLogger(__name__)


MESSAGE_INBOX_MAX = 4096
EVENT_INBOX_MAX = 1024
AUDIO_INBOX_MAX_FRAMES = 1000  # 10 s of audio


def parse_local_url(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    if parts.scheme != "local" or not parts.hostname or parts.port is None:
        raise InputError(f"local transport URL '{url}': expected local://HOST:PORT")
    return parts.hostname, parts.port


class LocalRoomConnection:
    """One participant in one room of the local server."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        room: str,
        identity: str,
        join_reply: dict[str, Any],
        role: str = "agent",
        clock: Clock = MONOTONIC,
    ) -> None:
        self._clock = clock
        self._reader = reader
        self._role = role
        self._writer = writer
        self._room = room
        self._identity = identity
        self._metadata = str(join_reply.get("room_metadata") or "")
        self._remote: dict[str, dict[str, Any]] = {
            p["identity"]: dict(p) for p in join_reply.get("participants", [])
        }
        self._attributes: dict[str, dict[str, str]] = {  # by identity; an older server: {}
            i: attributes_from_wire(p.get("attributes", {})) for i, p in self._remote.items()
        }
        self._own_attributes: dict[str, str] = {}
        self._messages: Inbox[DataMessage] = Inbox(MESSAGE_INBOX_MAX, "messages")
        self._events: Inbox[ParticipantEvent] = Inbox(EVENT_INBOX_MAX, "events")
        self._subs: dict[str, list[Inbox[ReceivedFrame]]] = {}
        media = join_reply.get("media")  # a room with a network: 20 ms packets
        self._media = MediaSettings.from_json(media) if isinstance(media, dict) else None
        if self._media is not None and self._media.codec == "opus":
            opus.preload()  # on joining, not on the first packet, which it would delay
        self._playouts: dict[str, Playout] = {}
        self._final_stats: dict[str, ReceiveStats | None] = {}
        self._publisher: LocalAudioPublisher | None = None
        self._closed = False
        self._reader_task = asyncio.create_task(
            self._read_loop(), name=f"autortc-local-read-{identity}"
        )

    @property
    def identity(self) -> str:
        return self._identity

    @property
    def room_name(self) -> str:
        return self._room

    @property
    def room_metadata(self) -> str:
        return self._metadata

    def remote_identities(self) -> list[str]:
        return list(self._remote)

    def has_audio_track(self, identity: str) -> bool:
        return bool(self._remote.get(identity, {}).get("has_audio"))

    def is_agent(self, identity: str) -> bool | None:
        info = self._remote.get(identity)
        return None if info is None else info.get("role") == "agent"

    def audio_codec(self, identity: str) -> str | None:
        if not self.has_audio_track(identity):
            return None
        return (
            "audio/opus" if self._media is not None and self._media.codec == "opus" else "audio/L16"
        )

    def receive_stats(self, identity: str) -> ReceiveStats | None:
        playout = self._playouts.get(identity)
        if playout is None:  # gone (it left, or this connection closed): its last figures
            return self._final_stats.get(identity)
        s = playout.depack.stats()
        events_ns = [round(t * 1e6) for t in playout.depack.buffer.event_t_ms]
        return {
            **asdict(s),
            "fec_recovered": playout.depack.fec_recovered,
            "conceal_event_t_ns": events_ns,
        }

    async def publish_audio(
        self, *, queue_size_ms: int = 100, max_bitrate_bps: int | None = None
    ) -> LocalAudioPublisher:
        if self._closed:
            raise TransportError("publish_audio on a closed connection")
        if self._role == "probe":
            # same least-privilege grants as the LiveKit tokens: the probe only listens
            raise TransportError("the probe may not publish audio (its grants have no publish)")
        if self._publisher is not None:
            raise TransportError("this participant already publishes its one audio track")
        self._send(wire.pack_control({"op": "publish"}))
        self._publisher = LocalAudioPublisher(
            self._writer,
            queue_size_ms=queue_size_ms,
            name=self._identity,
            clock=self._clock,
            packetizer=None
            if self._media is None
            else Packetizer(self._media, bitrate_bps=max_bitrate_bps),
        )
        return self._publisher

    def subscribe_audio(self, identity: str) -> AudioSubscription:
        """Subscribe now (frames are buffered from this call); iterate to receive them."""
        inbox: Inbox[ReceivedFrame] = Inbox(AUDIO_INBOX_MAX_FRAMES, f"audio:{identity}")
        if self._closed:
            inbox.close()
        else:
            inboxes = self._subs.setdefault(identity, [])
            inboxes.append(inbox)
            if len(inboxes) == 1:
                self._send(wire.pack_control({"op": "subscribe", "identity": identity}))
        return AudioSubscription(identity, inbox, self._unsubscribe)

    def _unsubscribe(self, identity: str, inbox: Inbox[ReceivedFrame]) -> None:
        current = self._subs.get(identity, [])
        if inbox in current:
            current.remove(inbox)
        if not current and self._subs.pop(identity, None) is not None and not self._closed:
            self._stop_playout(identity)
            self._send(wire.pack_control({"op": "unsubscribe", "identity": identity}))

    async def send_message(self, topic: str, payload: bytes) -> None:
        if self._closed or self._writer.is_closing():
            raise TransportError("send_message on a closed connection")
        try:
            packet = wire.pack_data(topic, bytes(payload))
        except wire.WireError as e:
            raise UsageError(f"message on topic {topic!r} cannot be sent: {e}") from e
        self._send(packet)
        try:
            await self._writer.drain()
        except ConnectionError as e:
            raise TransportError("connection to the local room server lost") from e

    async def set_attributes(self, attributes: Mapping[str, str]) -> None:
        update = validate_attributes(attributes)
        if self._role not in ATTRIBUTE_ROLES:
            raise TransportError(
                f"role '{self._role}' may not set its attributes (only the agent may; "
                "LiveKit: its token has no canUpdateOwnMetadata)"
            )
        if self._closed or self._writer.is_closing():
            raise TransportError("set_attributes on a closed connection")
        try:
            packet = wire.pack_control({"op": "set_attributes", "attributes": update})
        except wire.WireError as e:
            raise UsageError(f"participant attributes cannot be sent: {e}") from e
        self._own_attributes, _ = merge_attributes(self._own_attributes, update)
        self._send(packet)
        try:
            await self._writer.drain()
        except ConnectionError as e:
            raise TransportError("connection to the local room server lost") from e

    def attributes(self, identity: str) -> dict[str, str]:
        if identity == self._identity:
            return dict(self._own_attributes)
        return dict(self._attributes.get(identity, {}))

    async def messages(self) -> AsyncIterator[DataMessage]:
        while (msg := await self._messages.get()) is not None:
            yield msg

    async def participant_events(self) -> AsyncIterator[ParticipantEvent]:
        while (event := await self._events.get()) is not None:
            yield event

    async def aclose(self) -> None:
        self._mark_closed()
        try:
            if self._publisher is not None:
                await self._publisher.aclose()
        finally:
            self._writer.close()
            if not self._reader_task.done():
                self._reader_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._reader_task
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise asyncio.CancelledError
            await wire.close_writer(self._writer)

    @property
    def closed(self) -> bool:
        return self._closed

    # -- internals -----------------------------------------------------------

    def _send(self, packet: bytes) -> None:
        if not self._writer.is_closing():
            self._writer.write(packet)

    def _mark_closed(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._messages.close()
        self._events.close()
        for inboxes in self._subs.values():
            for inbox in inboxes:
                inbox.close()
        for identity in list(self._playouts):
            self._stop_playout(identity)
        if self._publisher is not None:
            self._publisher.mark_disconnected()

    async def _read_loop(self) -> None:
        try:
            while True:
                kind, body = await wire.read_packet(self._reader)
                recv_t_ns = self._clock.now_ns()
                if kind == wire.KIND_AUDIO:
                    sender, pcm = wire.unpack_audio_from(body)
                    inboxes = self._subs.get(sender)
                    if inboxes and self._media is not None:
                        self._playout(sender).push(pcm, recv_t_ns)
                    elif inboxes:
                        samples = np.frombuffer(pcm, dtype="<i2").astype(np.int16)
                        frame = ReceivedFrame(pcm=samples, recv_t_ns=recv_t_ns)
                        for inbox in inboxes:
                            inbox.put(frame)
                elif kind == wire.KIND_DATA:
                    topic, sender, payload = wire.unpack_data_from(body)
                    self._messages.put(DataMessage(topic, payload, sender, recv_t_ns))
                elif kind == wire.KIND_CONTROL and self._on_event(
                    wire.unpack_control(body), recv_t_ns
                ):
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            logger.debug("local room connection ended")
        except wire.WireError:
            logger.warning("bad packet from the local room server: closing")
        finally:
            self._mark_closed()
            self._writer.close()

    def _playout(self, sender: str) -> Playout:
        playout = self._playouts.get(sender)
        if playout is None:
            assert self._media is not None

            def sink(frame: ReceivedFrame) -> None:
                for inbox in self._subs.get(sender, []):
                    inbox.put(frame)

            playout = Playout(
                self._media, sink, clock=self._clock, name=f"autortc-local-playout-{sender}"
            )
            self._playouts[sender] = playout
        return playout

    def _stop_playout(self, identity: str) -> None:
        if identity in self._playouts:
            self._final_stats[identity] = self.receive_stats(identity)
            self._playouts.pop(identity).stop()

    def _on_event(self, msg: dict[str, Any], t_ns: int) -> bool:
        """Apply one server event. Returns True when the connection is over."""
        ev, identity = msg.get("ev"), str(msg.get("identity", ""))
        role = str(msg.get("role", ""))
        changed: dict[str, str] = {}
        if ev == "joined":
            self._remote[identity] = {"identity": identity, "role": role, "has_audio": False}
            self._attributes[identity] = attributes_from_wire(msg.get("attributes", {}))
        elif ev == "track_published":
            self._remote.setdefault(identity, {"identity": identity, "role": role})
            self._remote[identity]["has_audio"] = True
        elif ev == "attributes_changed":
            if identity not in self._remote:
                return False  # it left already
            changed = attributes_from_wire(msg.get("changed"))
            self._attributes[identity] = attributes_from_wire(msg.get("attributes"))
        elif ev == "left":
            info = self._remote.pop(identity, {})
            self._attributes.pop(identity, None)
            role = str(info.get("role", ""))
            inboxes = self._subs.pop(identity, [])
            self._stop_playout(identity)
            for inbox in inboxes:
                inbox.close()
            if inboxes:
                self._send(wire.pack_control({"op": "unsubscribe", "identity": identity}))
        else:
            return ev in ("room_deleted", "disconnected")
        is_agent = role == "agent" or is_agent_identity(identity)
        self._events.put(ParticipantEvent(ev, identity, is_agent, t_ns, changed_attributes=changed))
        return False


class LocalTransport:
    """The Transport seam over the embedded local room server."""

    name = "local"

    def __init__(
        self, url: str, *, timeout_s: float = CONNECT_TIMEOUT_S, clock: Clock = MONOTONIC
    ) -> None:
        self._clock = clock
        self.url = url
        self._host, self._port = parse_local_url(url)
        self._timeout_s = timeout_s
        self._connections: set[LocalRoomConnection] = set()
        self._workers: set[WorkerRegistration] = set()

    async def _request(self, msg: dict[str, Any]) -> dict[str, Any]:
        reader, writer = await open_stream(self._host, self._port, self._timeout_s)
        try:
            writer.write(wire.pack_control(msg))
            return await read_reply(reader, str(msg["op"]), self._timeout_s)
        finally:
            await wire.close_writer(writer)

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
        await self._request(
            {
                "op": "create_room",
                "room": room,
                "metadata": metadata,
                "agent_name": agent_name,
                "network": None if network is None else network.to_json(),
                "empty_timeout_s": empty_timeout_s,
                "max_participants": max_participants,
            }
        )

    async def delete_room(self, room: str) -> None:
        await self._request({"op": "delete_room", "room": room})

    async def list_rooms(self, prefix: str = "") -> list[str]:
        reply = await self._request({"op": "list_rooms", "prefix": prefix})
        return [str(r) for r in reply.get("rooms", [])]

    async def connect(self, room: str, identity: str, *, role: Role) -> LocalRoomConnection:
        reader, writer = await open_stream(self._host, self._port, self._timeout_s)
        try:
            writer.write(
                wire.pack_control({"op": "join", "room": room, "identity": identity, "role": role})
            )
            reply = await read_reply(reader, f"join room '{room}' as '{identity}'", self._timeout_s)
        except BaseException:
            writer.close()
            raise
        conn = LocalRoomConnection(
            reader,
            writer,
            room=room,
            identity=identity,
            join_reply=reply,
            role=role,
            clock=self._clock,
        )
        self._connections = {c for c in self._connections if not c.closed}
        self._connections.add(conn)
        return conn

    def register_worker(self, agent_name: str) -> WorkerRegistration:
        """Register as an agent worker; iterate it for JobRequests (see local_worker.py)."""
        registration = WorkerRegistration(self._host, self._port, agent_name, self._timeout_s)
        self._workers.add(registration)
        return registration

    async def aclose(self) -> None:
        """Close every connection and worker registration made through this transport."""
        connections, self._connections = self._connections, set()
        workers, self._workers = self._workers, set()
        for conn in connections:
            await conn.aclose()
        for registration in workers:
            await registration.aclose()
