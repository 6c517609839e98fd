"""Wire format of the embedded local room server (shared by server and client).

Every packet on the TCP stream is length-prefixed:

    packet  := u32 body_len (big endian) | u8 kind | body
    CONTROL (1): body = UTF-8 JSON object (requests, replies, events)
    AUDIO   (2): client->server body = PCM (480 int16 little endian, 960 bytes)
                 server->client body = u8 n | identity (n bytes UTF-8) | PCM
    DATA    (3): client->server body = u16 topic_len | topic | payload
                 server->client body = u16 topic_len | topic | u8 n | sender | payload

Audio and data packets are binary (no JSON, no base64) so per-frame cost is
one small header. Bodies over MAX_BODY_BYTES are a protocol error.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import struct
from typing import Any

from autortc.errors import TransportError, map_exceptions
from autortc.errors import WireError as WireError

KIND_CONTROL = 1
KIND_AUDIO = 2
KIND_DATA = 3

MAX_BODY_BYTES = 1 << 20
MAX_IDENTITY_BYTES = 255
MAX_TOPIC_BYTES = 1024

CONNECT_TIMEOUT_S = 10.0

HEADER = struct.Struct(">IB")
_U16 = struct.Struct(">H")


async def read_packet(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """Read one packet. Raises IncompleteReadError on EOF, WireError on bad length."""
    head = await reader.readexactly(HEADER.size)
    body_len, kind = HEADER.unpack(head)
    if body_len > MAX_BODY_BYTES:
        raise WireError("packet body too large")
    body = await reader.readexactly(body_len) if body_len else b""
    return kind, body


def pack(kind: int, body: bytes) -> bytes:
    if len(body) > MAX_BODY_BYTES:
        raise WireError("packet body too large")
    return HEADER.pack(len(body), kind) + body


def pack_control(msg: dict[str, Any]) -> bytes:
    return pack(KIND_CONTROL, json.dumps(msg, separators=(",", ":")).encode("utf-8"))


def unpack_control(body: bytes) -> dict[str, Any]:
    try:
        msg = json.loads(body)
    except (ValueError, UnicodeDecodeError) as e:
        raise WireError("control packet is not JSON") from e
    if not isinstance(msg, dict):
        raise WireError("control packet is not a JSON object")
    return msg


def identity_prefix(identity: str) -> bytes:
    raw = identity.encode("utf-8")
    if not raw or len(raw) > MAX_IDENTITY_BYTES:
        raise WireError("identity must be 1..255 UTF-8 bytes")
    return bytes([len(raw)]) + raw


def pack_audio_from(prefix: bytes, pcm: bytes) -> bytes:
    """Server->client audio packet; `prefix` is identity_prefix(sender)."""
    return HEADER.pack(len(prefix) + len(pcm), KIND_AUDIO) + prefix + pcm


def unpack_audio_from(body: bytes) -> tuple[str, bytes]:
    if not body:
        raise WireError("empty audio packet")
    n = body[0]
    if len(body) < 1 + n:
        raise WireError("truncated audio packet")
    return body[1 : 1 + n].decode("utf-8", "replace"), body[1 + n :]


def pack_data(topic: str, payload: bytes) -> bytes:
    """Client->server data packet."""
    raw = topic.encode("utf-8")
    if len(raw) > MAX_TOPIC_BYTES:
        raise WireError("topic too long")
    return pack(KIND_DATA, _U16.pack(len(raw)) + raw + payload)


def unpack_data(body: bytes) -> tuple[str, bytes]:
    """Client->server data body -> (topic, payload)."""
    if len(body) < _U16.size:
        raise WireError("truncated data packet")
    (n,) = _U16.unpack_from(body)
    end = _U16.size + n
    if len(body) < end or n > MAX_TOPIC_BYTES:
        raise WireError("truncated data packet")
    return body[_U16.size : end].decode("utf-8", "replace"), body[end:]


def pack_data_from(topic: str, sender_prefix: bytes, payload: bytes) -> bytes:
    """Server->client data packet."""
    raw = topic.encode("utf-8")
    return pack(KIND_DATA, _U16.pack(len(raw)) + raw + sender_prefix + payload)


def unpack_data_from(body: bytes) -> tuple[str, str, bytes]:
    """Server->client data body -> (topic, sender, payload)."""
    topic, rest = unpack_data(body)
    sender, payload = unpack_audio_from(rest)
    return topic, sender, payload


def set_nodelay(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


async def close_writer(writer: asyncio.StreamWriter, timeout_s: float = 1.0) -> None:
    """Close (flushing what is buffered); abort if the peer does not let go in time."""
    writer.close()
    try:
        async with asyncio.timeout(timeout_s):
            await writer.wait_closed()
    except TimeoutError:
        writer.transport.abort()
    except OSError:
        pass  # the peer reset the connection: it is closed either way


async def open_stream(
    host: str, port: int, timeout_s: float = CONNECT_TIMEOUT_S
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    where = f"cannot reach the local room server at local://{host}:{port}"
    with map_exceptions(TransportError, where, catch=(OSError, TimeoutError)):
        async with asyncio.timeout(timeout_s):
            reader, writer = await asyncio.open_connection(host, port)
    set_nodelay(writer)
    return reader, writer


async def read_reply(reader: asyncio.StreamReader, what: str, timeout_s: float) -> dict[str, Any]:
    """Read the server's control reply; raise TransportError on failure."""
    lost = (asyncio.IncompleteReadError, ConnectionError, TimeoutError)
    with map_exceptions(TransportError, f"local room server: {what} failed", catch=lost):
        async with asyncio.timeout(timeout_s):
            kind, body = await read_packet(reader)
    if kind != KIND_CONTROL:
        raise WireError(f"local room server: {what} failed: expected a control reply")
    reply = unpack_control(body)
    if not reply.get("ok"):
        raise TransportError(f"local room server: {what} failed: {reply.get('error')}")
    return reply
