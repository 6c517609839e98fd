"""The embedded transport's media in a room with a network (issue 13): 20 ms packets.

Without a network a local room carries raw 10 ms PCM frames, as it always did. With
one (`RoomNetwork`, given at create_room), every track is sent as 20 ms packets, as
WebRTC sends Opus:

    media body := u8 codec | u32 seq | i64 send_t_ns | u32 spurt | u32 offset | payload
    payload    := 1920 bytes of int16 LE PCM (codec 1), or one Opus packet (codec 2)

- `Packetizer` (sender): two 10 ms frames -> one packet, encoded; the first frame of a
  pair waits 10 ms for the second, as a real 20 ms packetizer does;
- the room server applies each link's fate to each packet (drop, or forward later);
- `Depacketizer` (receiver): a jitter buffer (network/jitter_buffer.py) that plays
  packets out `playout_delay_ms` after the first one arrived, in order, and conceals
  what is missing when it is due: Opus PLC, or FEC from the next packet when that is
  already there; silence for PCM. It hands out 20 ms of PCM at a time.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from autortc.audio import SAMPLES_PER_FRAME
from autortc.clock import Clock
from autortc.network.jitter_buffer import JitterBuffer, JitterStats
from autortc.network.opus import OpusDecoder, OpusEncoder
from autortc.network.room import OPUS_BITRATE_BPS
from autortc.transport.base import ReceivedFrame
from autortc.transport.local_wire import WireError

MEDIA_HEADER = struct.Struct(">BIqII")  # codec, seq, send time, talk spurt, offset in it
CODEC_IDS = {"pcm": 1, "opus": 2}
PACKET_SAMPLES = 2 * SAMPLES_PER_FRAME  # 20 ms
PACKET_MS = 20.0
FRAME_NS = 10_000_000


@dataclass(frozen=True)
class MediaSettings:
    """What a participant of a networked room is told in its join reply."""

    codec: str = "pcm"
    playout_delay_ms: float = 60.0
    fec: bool = False

    def to_json(self) -> dict[str, object]:
        return {"codec": self.codec, "playout_delay_ms": self.playout_delay_ms, "fec": self.fec}

    @classmethod
    def from_json(cls, body: dict[str, object]) -> MediaSettings:
        codec = str(body.get("codec", "pcm"))
        if codec not in CODEC_IDS:
            raise WireError(f"unknown codec {codec!r}")
        delay = body.get("playout_delay_ms", 60.0)
        return cls(
            codec, float(delay) if isinstance(delay, int | float) else 60.0, bool(body.get("fec"))
        )


def pack_media(
    codec_id: int, seq: int, send_t_ns: int, payload: bytes, *, spurt: int = 0, offset: int = 0
) -> bytes:
    return MEDIA_HEADER.pack(codec_id, seq & 0xFFFFFFFF, send_t_ns, spurt, offset) + payload


def unpack_media(body: bytes) -> tuple[int, int, int, bytes]:
    """(codec id, seq, send time ns, payload)."""
    if len(body) < MEDIA_HEADER.size:
        raise WireError("truncated media packet")
    codec_id, seq, send_t_ns, _, _ = MEDIA_HEADER.unpack_from(body)
    return codec_id, seq, send_t_ns, body[MEDIA_HEADER.size :]


def media_position(body: bytes) -> tuple[int, int]:
    """(talk spurt, packet offset in it): where the room server's links look up a
    packet's fate, so that the same audio meets the same fate in every run however
    long the silence before it lasted (a talk spurt starts at the first packet with
    sound after one without, as RTP's marker bit does)."""
    if len(body) < MEDIA_HEADER.size:
        raise WireError("truncated media packet")
    _, _, _, spurt, offset = MEDIA_HEADER.unpack_from(body)
    return int(spurt), int(offset)


class Packetizer:
    def __init__(self, settings: MediaSettings) -> None:
        self._codec_id = CODEC_IDS[settings.codec]
        self._encoder = (
            OpusEncoder(bitrate_bps=OPUS_BITRATE_BPS, fec=settings.fec, expected_loss_pct=10)
            if settings.codec == "opus"
            else None
        )
        self._half: bytes | None = None
        self._seq = 0
        self._spurt = 0
        self._offset = -1
        self._sounded = False  # the previous packet had sound

    def add(self, frame_le: bytes, now_ns: int) -> bytes | None:
        """One 10 ms frame (little-endian int16 bytes); the packet body once two are in."""
        if self._half is None:
            self._half = frame_le
            return None
        pcm_le, self._half = self._half + frame_le, None
        return self._packet(pcm_le, now_ns)

    def flush(self, now_ns: int) -> bytes | None:
        """A half-filled packet, padded with silence (the track is ending)."""
        if self._half is None:
            return None
        pcm_le, self._half = self._half + bytes(len(self._half)), None
        return self._packet(pcm_le, now_ns)

    def _packet(self, pcm_le: bytes, now_ns: int) -> bytes:
        sound = any(pcm_le)  # digital silence is all zero bytes
        if sound and not self._sounded:
            self._spurt, self._offset = self._spurt + 1, 0
        else:
            self._offset += 1
        self._sounded = sound
        if self._encoder is not None:
            payload = self._encoder.encode(np.frombuffer(pcm_le, dtype="<i2").astype(np.int16))
        else:
            payload = pcm_le
        body = pack_media(
            self._codec_id, self._seq, now_ns, payload, spurt=self._spurt, offset=self._offset
        )
        self._seq += 1
        return body


class Depacketizer:
    def __init__(self, settings: MediaSettings) -> None:
        self._opus = settings.codec == "opus"
        self._fec = settings.fec
        self._decoder = OpusDecoder() if self._opus else None
        self.buffer: JitterBuffer[bytes] = JitterBuffer(
            playout_delay_ms=settings.playout_delay_ms, frame_ms=PACKET_MS
        )
        self.fec_recovered = 0

    def push(self, body: bytes, arrival_ns: int) -> None:
        _, seq, send_t_ns, payload = unpack_media(body)
        self.buffer.push(seq, payload, send_t_ms=send_t_ns / 1e6, arrival_t_ms=arrival_ns / 1e6)

    def next_due_ns(self) -> int | None:
        due = self.buffer.next_due_ms()
        return None if due is None else round(due * 1e6)

    def pop(self, now_ns: int) -> list[tuple[int, np.ndarray]]:
        """(due time ns, 20 ms of int16 PCM) for every packet due by `now_ns`."""
        out: list[tuple[int, np.ndarray]] = []
        for seq, payload in self.buffer.pop(now_ns / 1e6):
            due = self.buffer.playout_t_ms(seq)
            due_ns = now_ns if due is None else round(due * 1e6)
            out.append((due_ns, self._pcm(seq, payload)))
        return out

    def _pcm(self, seq: int, payload: bytes | None) -> np.ndarray:
        if self._decoder is None:
            if payload is None:
                return np.zeros(PACKET_SAMPLES, np.int16)
            return np.frombuffer(payload, dtype="<i2").astype(np.int16)
        if payload is not None:
            pcm = self._decoder.decode(payload)
        elif self._fec and (following := self.buffer.held(seq + 1)) is not None:
            pcm = self._decoder.recover(following)
            self.fec_recovered += 1
        else:
            pcm = self._decoder.conceal()
        if len(pcm) < PACKET_SAMPLES:
            pcm = np.concatenate([pcm, np.zeros(PACKET_SAMPLES - len(pcm), np.int16)])
        return pcm[:PACKET_SAMPLES]

    def stats(self) -> JitterStats:
        return self.buffer.stats()


class Playout:
    """One sender's track at one receiver in a networked room: packets in (`push`, from
    the connection's reader), 10 ms `ReceivedFrame`s out to `sink` at the jitter
    buffer's pace, each stamped with its playout time, as LiveKit's AudioStream paces
    what it hands out."""

    def __init__(
        self,
        settings: MediaSettings,
        sink: Callable[[ReceivedFrame], None],
        *,
        clock: Clock,
        name: str,
    ) -> None:
        self.depack = Depacketizer(settings)
        self._sink = sink
        self._clock = clock
        self._wake = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name=name)

    def push(self, body: bytes, arrival_ns: int) -> None:
        try:
            self.depack.push(body, arrival_ns)
        except WireError:
            return
        self._wake.set()

    async def _sleep_until(self, t_ns: int) -> None:
        wait_ns = t_ns - self._clock.now_ns()
        if wait_ns > 0:
            await asyncio.sleep(wait_ns / 1e9)

    async def _run(self) -> None:
        while True:
            due = self.depack.next_due_ns()
            if due is None:
                self._wake.clear()
                await self._wake.wait()
                continue
            await self._sleep_until(due)
            for due_ns, pcm in self.depack.pop(self._clock.now_ns()):
                self._sink(ReceivedFrame(pcm=pcm[:SAMPLES_PER_FRAME], recv_t_ns=due_ns))
                half_ns = due_ns + FRAME_NS
                await self._sleep_until(half_ns)
                self._sink(ReceivedFrame(pcm=pcm[SAMPLES_PER_FRAME:], recv_t_ns=half_ns))

    def stop(self) -> None:
        self._task.cancel()
