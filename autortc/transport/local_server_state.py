"""The embedded room server's state: its clients (with the overflow policy on their
sockets), the participants and the rooms (see local_server.py)."""

from __future__ import annotations

import asyncio
import logging
import zlib
from dataclasses import dataclass, field
from typing import Any

from autortc.network.link import Fate, LinkModel
from autortc.network.room import RoomNetwork

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
    attributes: dict[str, str] = field(default_factory=dict)  # LiveKit's, see attributes.py

    def info(self) -> dict[str, Any]:
        """What a joining participant learns about this one (the join reply's list)."""
        return {
            "identity": self.identity,
            "role": self.role,
            "has_audio": self.has_audio,
            "attributes": dict(self.attributes),
        }


@dataclass(eq=False)
class Room:
    name: str
    metadata: str
    max_participants: int
    empty_timeout_s: float
    peers: dict[str, Peer] = field(default_factory=dict)
    empty_timer: asyncio.TimerHandle | None = None
    network: RoomNetwork | None = None  # None: raw 10 ms PCM, no impairment
    links: dict[str, tuple[int, LinkModel]] = field(default_factory=dict)  # by publisher
    lost_packets: int = 0

    def fate_of(self, peer: Peer, spurt: int, offset: int) -> Fate:
        """The fate of a publisher's packet at `offset` in talk spurt `spurt`, on the
        link it crosses: the agent's own (downlink, to the caller), or the caller's
        (uplink) for everyone else. Each spurt draws from its own seeded sequence."""
        assert self.network is not None
        current = self.links.get(peer.identity)
        if current is None or current[0] != spurt:
            downlink = peer.role == "agent"
            profile = self.network.profile.downlink if downlink else self.network.profile.uplink
            role = 1 if downlink else 0 if peer.role == "user" else 2
            seed = zlib.crc32(f"{self.network.seed}:{role}:{spurt}".encode())
            current = (spurt, LinkModel(profile, seed))
            self.links[peer.identity] = current
        return current[1].fate(offset)

    def broadcast(self, data: bytes, *, exclude: Peer | None = None) -> None:
        for peer in self.peers.values():
            if peer is not exclude:
                peer.client.send(data)
