"""The embedded local room server: a loopback stand-in for livekit-server.

One asyncio TCP server, length-prefixed packets (see local_wire.py). A fresh
connection's first control packet decides what it is:
- an admin request (`create_room`, `delete_room`, `list_rooms`), answered in turn;
- `join`: the connection becomes a participant of one room;
- `register_worker`: the connection receives `job` events for an agent name
  (round-robin among workers registered under the same name).

A participant's control ops: `publish`, `subscribe`/`unsubscribe` (identity) and
`set_attributes` (attributes: a JSON object of strings, merged as LiveKit does, see
attributes.py). The room keeps each participant's attributes, sends them with the
participant list of the join reply, and tells the others `attributes_changed`
(identity, role, changed, attributes: the full set) when something changed.

Overflow policy: the server never waits on a slow receiver. Audio to a client
whose socket buffer holds more than AUDIO_DROP_BYTES is dropped (and counted);
a client whose buffer exceeds HARD_LIMIT_BYTES is disconnected. Control and
data packets are otherwise never dropped. Malformed packets are answered with an
error or ignored; oversized/garbled framing closes only that connection.

Run: `python -m autortc.transport.local_server [--host 127.0.0.1] [--port 0]`
prints `AUTORTC_LOCAL_URL=local://HOST:PORT` once listening.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
import uuid
from typing import Any

from autortc.network.room import RoomNetwork
from autortc.transport import local_wire as wire
from autortc.transport.attributes import attributes_from_wire, merge_attributes
from autortc.transport.local_media import MediaSettings, media_position
from autortc.transport.local_server_state import Client, Peer, Room
from autortc.transport.local_wire import WireError

logger = logging.getLogger(__name__)


class LocalRoomServer:
    """Rooms, participants and agent workers, all in one event loop."""

    def __init__(self) -> None:
        self.rooms: dict[str, Room] = {}
        self._workers: dict[str, list[Client]] = {}
        self._rr: dict[str, int] = {}
        self._clients: set[Client] = set()
        self._handlers: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None
        self.port = 0

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        self._server = await asyncio.start_server(self._handle, host, port)
        self.port = int(self._server.sockets[0].getsockname()[1])
        logger.info("local room server listening", extra={"host": host, "port": self.port})
        return self.port

    async def aclose(self) -> None:
        """Stop listening and drop every client. Idempotent."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for client in list(self._clients):
            client.writer.close()
        for room in self.rooms.values():
            if room.empty_timer is not None:
                room.empty_timer.cancel()
        self.rooms.clear()
        handlers = [t for t in self._handlers if t is not asyncio.current_task()]
        if handlers:
            _done, pending = await asyncio.wait(handlers, timeout=2.0)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending)
        if server is not None:
            await server.wait_closed()

    # -- connection handling -------------------------------------------------

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        wire.set_nodelay(writer)
        client = Client(writer)
        self._clients.add(client)
        handler = asyncio.current_task()
        if handler is not None:
            self._handlers.add(handler)
        peer: Peer | None = None
        worker_name: str | None = None
        try:
            while True:
                kind, body = await wire.read_packet(reader)
                if peer is not None:
                    self._on_peer_packet(peer, kind, body)
                    continue
                if kind != wire.KIND_CONTROL:
                    continue  # audio/data before join: ignored
                try:
                    msg = wire.unpack_control(body)
                except wire.WireError as e:
                    client.send(wire.pack_control({"ok": False, "error": str(e)}))
                    continue
                op = msg.get("op")
                if worker_name is None and op == "join":
                    peer = self._join(client, msg)
                elif worker_name is None and op == "register_worker":
                    worker_name = self._register_worker(client, msg)
                else:
                    reply = self._admin(op, msg)
                    if "id" in msg:
                        reply["id"] = msg["id"]
                    client.send(wire.pack_control(reply))
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        except wire.WireError:
            logger.warning("bad framing from client: disconnecting")
        except Exception:
            logger.exception("unexpected error handling a client")
        finally:
            self._clients.discard(client)
            if handler is not None:
                self._handlers.discard(handler)
            if peer is not None:
                self._leave(peer)
            if worker_name is not None:
                with contextlib.suppress(ValueError):
                    self._workers.get(worker_name, []).remove(client)
            writer.close()

    def _admin(self, op: Any, msg: dict[str, Any]) -> dict[str, Any]:
        try:
            if op == "create_room":
                return self._create_room(msg)
            if op == "delete_room":
                self.delete_room(_str(msg, "room"))
                return {"ok": True}
            if op == "list_rooms":
                prefix = str(msg.get("prefix") or "")
                return {"ok": True, "rooms": sorted(r for r in self.rooms if r.startswith(prefix))}
        except (KeyError, TypeError, ValueError) as e:
            return {"ok": False, "error": f"bad request: {e}"}
        return {"ok": False, "error": f"unknown op {op!r}"}

    def _create_room(self, msg: dict[str, Any]) -> dict[str, Any]:
        name = _str(msg, "room")
        if not name:
            return {"ok": False, "error": "room name must not be empty"}
        agent_name = msg.get("agent_name")
        workers: list[Client] = []
        if agent_name:
            workers = [w for w in self._workers.get(agent_name, []) if not w.writer.is_closing()]
            if not workers:
                return {"ok": False, "error": f"no agent worker registered as '{agent_name}'"}
        room = self.rooms.get(name)
        if room is None:
            network = msg.get("network")
            room = Room(
                name=name,
                metadata=str(msg.get("metadata") or ""),
                max_participants=int(msg.get("max_participants") or 0),
                empty_timeout_s=float(msg.get("empty_timeout_s") or 0),
                network=RoomNetwork.from_json(network) if isinstance(network, dict) else None,
            )
            self.rooms[name] = room
            self._arm_empty_timer(room)
        if agent_name:
            idx = self._rr.get(agent_name, 0) % len(workers)
            self._rr[agent_name] = idx + 1
            job = {
                "ev": "job",
                "room": name,
                "metadata": room.metadata,
                "agent_name": agent_name,
                "job_id": uuid.uuid4().hex,
            }
            workers[idx].send(wire.pack_control(job))
        return {"ok": True}

    def delete_room(self, name: str) -> None:
        room = self.rooms.pop(name, None)
        if room is None:
            return
        if room.empty_timer is not None:
            room.empty_timer.cancel()
        bye = wire.pack_control({"ev": "room_deleted", "room": name})
        for peer in list(room.peers.values()):
            peer.client.send(bye)
            peer.client.writer.close()
        room.peers.clear()

    def _arm_empty_timer(self, room: Room) -> None:
        if room.empty_timer is not None:
            room.empty_timer.cancel()
            room.empty_timer = None
        if room.empty_timeout_s > 0 and not room.peers:
            loop = asyncio.get_running_loop()
            room.empty_timer = loop.call_later(room.empty_timeout_s, self._expire, room)

    def _expire(self, room: Room) -> None:
        if not room.peers and self.rooms.get(room.name) is room:
            logger.info("empty room expired", extra={"room": room.name})
            self.delete_room(room.name)

    def _register_worker(self, client: Client, msg: dict[str, Any]) -> str | None:
        name = msg.get("agent_name")
        if not isinstance(name, str) or not name:
            client.send(wire.pack_control({"ok": False, "error": "agent_name must be a string"}))
            return None
        self._workers.setdefault(name, []).append(client)
        client.send(wire.pack_control({"ok": True}))
        return name

    # -- participants ------------------------------------------------------

    def _join(self, client: Client, msg: dict[str, Any]) -> Peer | None:
        room = self.rooms.get(str(msg.get("room")))
        identity, role = msg.get("identity"), msg.get("role")
        error = None
        if room is None:
            error = f"room '{msg.get('room')}' does not exist"
        elif not isinstance(identity, str) or not isinstance(role, str):
            error = "join needs string identity and role"
        else:
            try:
                prefix = wire.identity_prefix(identity)
            except wire.WireError as e:
                error = str(e)
            others = [p for i, p in room.peers.items() if i != identity]
            if error is None and 0 < room.max_participants <= len(others):
                error = f"room '{room.name}' is full ({room.max_participants} participants)"
        if error is not None:
            client.send(wire.pack_control({"ok": False, "error": error}))
            return None
        assert room is not None
        assert isinstance(identity, str)
        assert isinstance(role, str)
        old = room.peers.get(identity)
        if old is not None:  # like LiveKit: a duplicate identity replaces the old one
            self._leave(old)
            old.client.send(wire.pack_control({"ev": "disconnected", "reason": "duplicate"}))
            old.client.writer.close()
        peer = Peer(client=client, identity=identity, role=role, room=room, prefix=prefix)
        client.send(
            wire.pack_control(
                {
                    "ok": True,
                    "room_metadata": room.metadata,
                    "participants": [p.info() for p in room.peers.values()],
                    "media": None if room.network is None else _media(room.network),
                }
            )
        )
        room.peers[identity] = peer
        self._arm_empty_timer(room)
        room.broadcast(
            wire.pack_control({"ev": "joined", "identity": identity, "role": role}), exclude=peer
        )
        return peer

    def _leave(self, peer: Peer) -> None:
        room = peer.room
        if room.peers.get(peer.identity) is not peer:
            return
        del room.peers[peer.identity]
        room.broadcast(wire.pack_control({"ev": "left", "identity": peer.identity}))
        if self.rooms.get(room.name) is room:
            self._arm_empty_timer(room)

    def _on_peer_packet(self, peer: Peer, kind: int, body: bytes) -> None:
        if peer.room.peers.get(peer.identity) is not peer:
            return  # replaced or room deleted; the socket is closing
        if kind == wire.KIND_AUDIO:
            if not peer.has_audio:
                return
            packet = wire.pack_audio_from(peer.prefix, body)
            if peer.room.network is None:
                _forward(peer, packet)
                return
            try:
                fate = peer.room.fate_of(peer, *media_position(body))
            except (WireError, ValueError):
                return  # not a media packet, or a sequence number gone back
            if fate.lost:
                peer.room.lost_packets += 1
            elif fate.delay_ms <= 0:
                _forward(peer, packet)
            else:
                asyncio.get_running_loop().call_later(fate.delay_ms / 1000, _forward, peer, packet)
        elif kind == wire.KIND_DATA:
            try:
                topic, payload = wire.unpack_data(body)
            except wire.WireError:
                return
            peer.room.broadcast(wire.pack_data_from(topic, peer.prefix, payload), exclude=peer)
        elif kind == wire.KIND_CONTROL:
            try:
                msg = wire.unpack_control(body)
            except wire.WireError:
                return
            op, target = msg.get("op"), msg.get("identity")
            if op == "publish" and not peer.has_audio:
                peer.has_audio = True
                event = {"ev": "track_published", "identity": peer.identity, "role": peer.role}
                peer.room.broadcast(wire.pack_control(event), exclude=peer)
            elif op == "subscribe" and isinstance(target, str):
                peer.subscriptions.add(target)
            elif op == "unsubscribe" and isinstance(target, str):
                peer.subscriptions.discard(target)
            elif op == "set_attributes":
                _set_attributes(peer, msg.get("attributes"))


def _set_attributes(peer: Peer, raw: object) -> None:
    """Merge a participant's attribute update and tell the others what changed."""
    try:
        update = attributes_from_wire(raw)
    except WireError:
        logger.warning("bad set_attributes from a participant: ignored")
        return
    merged, changed = merge_attributes(peer.attributes, update)
    if not changed:
        return
    event = {"ev": "attributes_changed", "identity": peer.identity, "role": peer.role}
    try:
        packet = wire.pack_control({**event, "changed": changed, "attributes": merged})
    except WireError:
        logger.warning("participant attributes over the packet limit: update ignored")
        return
    peer.attributes = merged
    peer.room.broadcast(packet, exclude=peer)


def _forward(peer: Peer, packet: bytes) -> None:
    """An audio packet of `peer` to every participant subscribed to it (now)."""
    if peer.room.peers.get(peer.identity) is not peer:
        return  # it left while the packet was in flight
    for other in peer.room.peers.values():
        if other is not peer and peer.identity in other.subscriptions:
            other.client.send(packet, droppable=True)


def _media(network: RoomNetwork) -> dict[str, object]:
    settings = MediaSettings(
        codec=network.codec,
        playout_delay_ms=network.profile.playout_delay_ms,
        fec=network.codec == "opus" and network.profile.downlink.mean_loss > 0,
    )
    return settings.to_json()


def _str(msg: dict[str, Any], key: str) -> str:
    value = msg[key]
    if not isinstance(value, str):
        raise TypeError(f"'{key}' must be a string")
    return value


async def serve(host: str = "127.0.0.1", port: int = 0) -> tuple[LocalRoomServer, int]:
    """Start a server in this event loop. Returns (server, bound port); `await server.aclose()`."""
    server = LocalRoomServer()
    bound = await server.start(host, port)
    return server, bound


async def _watch_parent(parent_pid: int, stop: asyncio.Event) -> None:
    """Set `stop` when the parent process is gone (we were re-parented)."""
    while not stop.is_set():
        if os.getppid() != parent_pid:
            logger.warning("parent process exited: stopping the local room server")
            stop.set()
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(0.5):
                await stop.wait()


async def _main(host: str, port: int, parent_pid: int | None) -> None:
    server, bound = await serve(host, port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"AUTORTC_LOCAL_URL=local://{host}:{bound}", flush=True)
    try:
        async with asyncio.TaskGroup() as tg:
            if parent_pid is not None:
                tg.create_task(_watch_parent(parent_pid, stop), name="autortc-local-watch-parent")
            await stop.wait()
    finally:
        await server.aclose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="AutoRTC embedded local room server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--log-level", default="WARNING")
    parser.add_argument(
        "--parent-pid", type=int, default=None, help="exit when this parent process is gone"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr)
    asyncio.run(_main(args.host, args.port, args.parent_pid))
    return 0


if __name__ == "__main__":
    sys.exit(main())
