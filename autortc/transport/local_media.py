"""The embedded transport's media in a room with a network (issue 13): 20 ms packets.

Without a network a local room carries raw 10 ms PCM frames, as it always did. With
one (`RoomNetwork`, given at create_room), every track is sent as 20 ms packets, as
WebRTC sends Opus:

    media body := u8 codec | u8 flags | u32 seq | i64 send_t_ns | u32 spurt | u32 offset
                  | payload
    send_t_ns  := the packet's time on the sender's 10 ms schedule (RTP's media clock,
                  on the host clock): receivers measure transit and jitter against it
    payload    := 1920 bytes of int16 LE PCM (codec 1), or one Opus packet (codec 2)

- `Packetizer` (sender): two 10 ms frames -> one packet, encoded; the first frame of a
  pair waits 10 ms for the second, as a real 20 ms packetizer does; a talk spurt's
  first packet starts with its first sound;
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

# codec, flags, seq, send time, talk spurt, offset in it
MEDIA_HEADER = struct.Struct(">BBIqII")
FLAG_RESUMED = 1  # the sender fell behind its timeline before this packet (it stalled)
CODEC_IDS = {"pcm": 1, "opus": 2}
PACKET_SAMPLES = 2 * SAMPLES_PER_FRAME  # 20 ms
PACKET_MS = 20.0
FRAME_NS = 10_000_000
FEC_EXPECTED_LOSS_PCT = 10
SPURT_GAP_FRAMES = 100  # 1 s of silence before sound: a new talk spurt (a reply, not a
# pause between its sentences, which keeps its length)
SEND_LAG_NS = 2 * FRAME_NS  # a frame this late on the sender's timeline: it paused


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
    codec_id: int,
    seq: int,
    send_t_ns: int,
    payload: bytes,
    *,
    spurt: int = 0,
    offset: int = 0,
    flags: int = 0,
) -> bytes:
    return MEDIA_HEADER.pack(codec_id, flags, seq & 0xFFFFFFFF, send_t_ns, spurt, offset) + payload


def _header(body: bytes) -> tuple[int, int, int, int, int, int]:
    if len(body) < MEDIA_HEADER.size:
        raise WireError("truncated media packet")
    codec_id, flags, seq, send_t_ns, spurt, offset = MEDIA_HEADER.unpack_from(body)
    return int(codec_id), int(flags), int(seq), int(send_t_ns), int(spurt), int(offset)


def unpack_media(body: bytes) -> tuple[int, int, int, bytes]:
    """(codec id, seq, send time ns, payload)."""
    codec_id, _, seq, send_t_ns, _, _ = _header(body)
    return codec_id, seq, send_t_ns, body[MEDIA_HEADER.size :]


def starts_talk_spurt(body: bytes) -> bool:
    """The packet is its talk spurt's first (RTP's marker bit)."""
    _, _, _, _, spurt, offset = _header(body)
    return spurt > 0 and offset == 0


def resumed(body: bytes) -> bool:
    """The sender stalled before this packet (it fell behind its own timeline)."""
    return bool(_header(body)[1] & FLAG_RESUMED)


def media_position(body: bytes) -> tuple[int, int]:
    """(talk spurt, packet offset in it): where the room server's links look up a
    packet's fate, so that the same audio meets the same fate in every run however
    long the silence before it lasted, and whether or not the sender stalled in it
    (`Packetizer` says when a talk spurt starts)."""
    _, _, _, _, spurt, offset = _header(body)
    return spurt, offset


class Packetizer:
    """10 ms frames in, 20 ms media packets out.

    `bitrate_bps`: the Opus bitrate (the publisher's `max_bitrate_bps`; default
    `OPUS_BITRATE_BPS`, a LiveKit voice track's).

    A talk spurt starts at the first sound after at least `SPURT_GAP_FRAMES` of silence
    (digital zero frames), or at the track's first sound. A packet after the sender fell
    more than `SEND_LAG_NS` behind its own 10 ms timeline (it stalled, or its queue ran
    empty) carries `FLAG_RESUMED`: a receiver that concealed meanwhile then knows the gap
    was the sender's, not the network's. A
    first frame with no second after it (the queue ran empty) is flushed, padded with
    silence, by the publisher (`LocalAudioPublisher`), as a clocked packetizer would. Its first packet starts with that sound: a silent 10 ms frame
    held for pairing is not sent (DTX would not send it either), so the same speech
    fills the same packets, and meets the same fates, in every run. Inside a spurt
    nothing is ever left out, so a reply's audio keeps its timing."""

    def __init__(self, settings: MediaSettings, *, bitrate_bps: int | None = None) -> None:
        self.codec = settings.codec
        self._codec_id = CODEC_IDS[settings.codec]
        self.bitrate_bps = bitrate_bps or OPUS_BITRATE_BPS
        self._encoder = (
            OpusEncoder(
                bitrate_bps=self.bitrate_bps,
                fec=settings.fec,
                # libwebrtc tells the encoder the loss it measures: with none, libopus
                # keeps full quality (at 10 % it drops 4-8 kHz to make room for
                # robustness); with FEC the encoder must expect some to send any
                expected_loss_pct=FEC_EXPECTED_LOSS_PCT if settings.fec else 0,
            )
            if settings.codec == "opus"
            else None
        )
        if self._encoder is not None:
            # its first reset primes it (about 8 ms of encoding): now, at join, not on the
            # send path of the first reply's first packet
            self._encoder.reset()
        self._half: bytes | None = None
        self._seq = 0
        self._spurt = 0
        self._offset = -1
        self._silent_frames = SPURT_GAP_FRAMES  # the track starts after silence
        self._t0_ns: int | None = None  # when the frames' timeline started
        self._frames = 0  # frames since then
        self._spurt_next = False  # the next packet starts a talk spurt
        self._resumed_next = False  # the next packet comes after a stall

    def _due_ns(self) -> int:
        """When the next frame is due on the sender's own timeline."""
        assert self._t0_ns is not None
        return self._t0_ns + self._frames * FRAME_NS

    def add(self, frame_le: bytes, now_ns: int, *, sent_ns: int | None = None) -> list[bytes]:
        """One 10 ms frame (little-endian int16 bytes) and its time on the sender's
        schedule (`now_ns`, which the packet carries); the packet bodies it completes.
        `sent_ns`: when it was really handed over, if that can be later."""
        out: list[bytes] = []
        jumped = self._t0_ns is not None and now_ns - self._due_ns() > SEND_LAG_NS
        behind = sent_ns is not None and sent_ns - now_ns > SEND_LAG_NS
        if jumped or behind:
            # the sender fell behind its own timeline (it stalled, or its queue ran
            # empty): its next packet says so, so that a receiver that has to conceal
            # meanwhile knows it was waiting for the sender, not for the network
            self._resumed_next = True
            self._t0_ns = None
        if self._t0_ns is None:
            self._t0_ns, self._frames = now_ns, 0
        self._frames += 1
        sound = any(frame_le)  # digital silence is all zero bytes
        if sound and self._silent_frames >= SPURT_GAP_FRAMES:
            self._spurt_next = True
            self._half = None  # silent: the spurt's first packet starts here
        self._silent_frames = 0 if sound else self._silent_frames + 1
        if self._half is None:
            self._half = frame_le
            return out
        pcm_le, self._half = self._half + frame_le, None
        out.append(self._packet(pcm_le, now_ns))
        return out

    @property
    def holding(self) -> bool:
        """A first 10 ms frame waits for its second."""
        return self._half is not None

    def flush(self, now_ns: int) -> list[bytes]:
        """A half-filled packet, padded with silence (the track is ending)."""
        if self._half is None:
            return []
        pcm_le, self._half = self._half + bytes(len(self._half)), None
        self._resumed_next = True  # it waited for a second half: the sender paused
        return [self._packet(pcm_le, now_ns)]

    def _packet(self, pcm_le: bytes, now_ns: int) -> bytes:
        if self._spurt_next:
            self._spurt, self._offset, self._spurt_next = self._spurt + 1, 0, False
            if self._encoder is not None:
                self._encoder.reset()  # a spurt's packets depend on its audio alone
        else:
            self._offset += 1
        flags = FLAG_RESUMED if self._resumed_next else 0
        self._resumed_next = False
        if self._encoder is not None:
            payload = self._encoder.encode(np.frombuffer(pcm_le, dtype="<i2").astype(np.int16))
        else:
            payload = pcm_le
        body = pack_media(
            self._codec_id,
            self._seq,
            now_ns,
            payload,
            spurt=self._spurt,
            offset=self._offset,
            flags=flags,
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
        self._last_spurt = 0
        self._spurt_first: set[int] = set()  # the first packet (seq) of each spurt seen

    def push(self, body: bytes, arrival_ns: int) -> None:
        _, seq, send_t_ns, payload = unpack_media(body)
        spurt, offset = media_position(body)
        if spurt > self._last_spurt and offset <= seq:
            # a new talk spurt (whichever of its packets came first): its first frame
            # starts from a reset decoder, as the sender's encoder did
            self._last_spurt = spurt
            self._spurt_first.add(seq - offset)
        self.buffer.push(
            seq,
            payload,
            send_t_ms=send_t_ns / 1e6,
            arrival_t_ms=arrival_ns / 1e6,
            spurt_start=starts_talk_spurt(body),
            resumed=resumed(body),
        )
        skipped, self.buffer.skipped = self.buffer.skipped, []
        if self._decoder is not None:
            for _, silent in skipped:  # not played, but the decoder stays in step
                self._decoder.decode(silent)

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

    def _reset_at(self, seq: int) -> None:
        """Reset the decoder before the frame of a spurt's first packet; a spurt whose
        first frame was played before any of its packets came keeps the old state."""
        if not self._spurt_first:
            return
        if self._decoder is not None and seq in self._spurt_first:
            self._decoder.reset()
        self._spurt_first = {s for s in self._spurt_first if s > seq}

    def _pcm(self, seq: int, payload: bytes | None) -> np.ndarray:
        self._reset_at(seq)
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
