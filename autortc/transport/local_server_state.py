"""The embedded room server's state: its clients (with the overflow policy on their
sockets), the participants and the rooms (see local_server.py)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

logger = logging.getLogger("autortc.transport.local_server")

AUDIO_DROP_BYTES = 512 * 1024
HARD_LIMIT_BYTES = 16 * 1024 * 1024


@dataclass(eq=False)
class Client:
    writer: asyncio.StreamWriter
    dropped_audio: int = 0

    def send(self, data: bytes, *, droppable: bool = False) -> None:
        if self.writer.is_closing():
            return
        buffered = self.writer.transport.get_write_buffer_size()
        if droppable and buffered > AUDIO_DROP_BYTES:
            self.dropped_audio += 1
            if self.dropped_audio == 1:
                logger.warning("slow client: dropping audio", extra={"buffered": buffered})
            return
        if buffered > HARD_LIMIT_BYTES:
            logger.warning("slow client over hard limit: disconnecting")
            self.writer.close()
            return
        self.writer.write(data)


@dataclass(eq=False)
class Peer:
    client: Client
    identity: str
    role: str
    room: Room
    prefix: bytes
    has_audio: bool = False
    subscriptions: set[str] = field(default_factory=set)

    def info(self) -> dict[str, Any]:
        return {"identity": self.identity, "role": self.role, "has_audio": self.has_audio}


@dataclass(eq=False)
class Room:
    name: str
    metadata: str
    max_participants: int
    empty_timeout_s: float
    peers: dict[str, Peer] = field(default_factory=dict)
    empty_timer: asyncio.TimerHandle | None = None

    def broadcast(self, data: bytes, *, exclude: Peer | None = None) -> None:
        for peer in self.peers.values():
            if peer is not exclude:
                peer.client.send(data)
