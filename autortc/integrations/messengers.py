"""The tiny room interface the AutoRTC hooks need: send and receive topic messages.

Two implementations: over a `livekit.rtc.Room` (an agent in a real LiveKit room)
and over an AutoRTC `RoomConnection` (the transport seam, e.g. the local room).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Protocol

from livekit import rtc

OnMessage = Callable[[str, bytes, str | None], None]  # (topic, payload, sender identity)


class Messenger(Protocol):
    metadata: str

    async def send(self, topic: str, payload: bytes) -> None: ...

    async def receive(self, on_message: OnMessage) -> None:
        """Deliver topic messages, with their sender's identity (None when unknown),
        until cancelled or the room closes."""
        ...

    def own_audio_published(self) -> bool: ...

    def connected(self) -> bool:
        """False once the room is gone: sends would only fail."""
        ...


class RoomConnectionMessenger:
    """Over an AutoRTC RoomConnection (the hooks become its one `messages()` consumer)."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn
        self.metadata = str(conn.room_metadata or "")

    async def send(self, topic: str, payload: bytes) -> None:
        await self._conn.send_message(topic, payload)

    async def receive(self, on_message: OnMessage) -> None:
        async for msg in self._conn.messages():
            on_message(msg.topic, msg.payload, msg.sender)

    def own_audio_published(self) -> bool:
        return False  # the seam cannot tell; pass audio_track_published=True

    def connected(self) -> bool:
        return not self._conn.closed


class RtcRoomMessenger:
    """Over a livekit.rtc.Room: reliable data packets on topics."""

    def __init__(self, room: rtc.Room) -> None:
        self._room = room
        self.metadata = str(room.metadata or "")

    async def send(self, topic: str, payload: bytes) -> None:
        await self._room.local_participant.publish_data(payload, reliable=True, topic=topic)

    async def receive(self, on_message: OnMessage) -> None:
        def on_data(packet: rtc.DataPacket) -> None:
            sender = packet.participant.identity if packet.participant is not None else None
            on_message(packet.topic or "", bytes(packet.data), sender)

        self._room.on("data_received", on_data)
        try:
            await asyncio.Event().wait()  # until cancelled
        finally:
            self._room.off("data_received", on_data)

    def own_audio_published(self) -> bool:
        pubs = self._room.local_participant.track_publications.values()
        return any(p.kind == rtc.TrackKind.KIND_AUDIO for p in pubs)

    def connected(self) -> bool:
        return self._room.isconnected()


def make_messenger(room: Any) -> Messenger:
    if isinstance(room, rtc.Room):
        return RtcRoomMessenger(room)
    if hasattr(room, "send_message") and hasattr(room, "messages"):
        return RoomConnectionMessenger(room)
    raise TypeError(f"expected a livekit.rtc.Room or an AutoRTC RoomConnection, got {room!r}")
