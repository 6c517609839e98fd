"""One participant's connection to a LiveKit room, behind the RoomConnection seam.

`LiveKitRoomConnection` wraps an `rtc.Room`:
- audio out: `rtc.AudioSource(48000, 1, queue_size_ms)` -> `LocalAudioTrack` published
  with source MICROPHONE (the only source our tokens allow) and DTX off, so silence
  is sent as frames and the receiving side sees a continuous 10 ms clock;
- audio in: `rtc.AudioStream(track, sample_rate=48000, num_channels=1,
  frame_size_ms=10)`, the SDK resamples and re-frames for us;
- messages: `publish_data(reliable=True, topic=...)` and the `data_received` event;
- attributes: `local_participant.set_attributes` (the server merges; "" deletes),
  `Participant.attributes`, and the `participant_attributes_changed` event;
- events: participant_connected / participant_disconnected / track_published /
  participant_attributes_changed (of remote participants; the SDK also reports the
  local one's, which the seam leaves out).

Event handlers run on the SDK's listen task and must not block: they only put
into bounded queues. Overflow policy: a message or event arriving at a full queue
is dropped and counted (`dropped_messages`, `dropped_events`) and logged.
`recv_t_ns` is stamped when our iterator takes the frame from the SDK's queue.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

from livekit import rtc

from autortc.audio import SAMPLE_RATE_HZ, SAMPLES_PER_FRAME
from autortc.errors import TransportError
from autortc.network.jitter_buffer import ReceiveStats
from autortc.protocol import is_agent_identity
from autortc.transport.attributes import ATTRIBUTE_ROLES, merge_attributes, validate_attributes
from autortc.transport.base import (
    AudioEncoding,
    DataMessage,
    ParticipantEvent,
    ReceivedFrame,
    Role,
)
from autortc.transport.livekit_frames import FrameRechunker, frame_to_pcm
from autortc.transport.livekit_publisher import LiveKitAudioPublisher
from autortc.transport.livekit_tokens import role_grants

logger = logging.getLogger(__name__)

TRACK_NAME = "autortc-audio"
MESSAGE_QUEUE_MAX = 4096
EVENT_QUEUE_MAX = 1024
FRAME_QUEUE_MAX_FRAMES = 3000  # 30 s of 10 ms frames; the SDK ring drops the oldest beyond it
PUBLISH_TIMEOUT_S = 12.0  # the SDK gives up at 10 s (TRACK_PUBLISH_TIMEOUT) with its own error
ATTRIBUTES_TIMEOUT_S = 7.0  # rust-sdks waits 5 s (REQUEST_TIMEOUT) for the server's answer
CLOSE_TIMEOUT_S = 5.0


def is_agent_participant(participant: rtc.Participant) -> bool:
    return participant.kind == rtc.ParticipantKind.PARTICIPANT_KIND_AGENT or is_agent_identity(
        participant.identity
    )


class LiveKitRoomConnection:
    """RoomConnection over an `rtc.Room`. Register before `Room.connect` (the transport
    does) so no event is missed, or wrap a connected room with `from_room`."""

    def __init__(self, room: rtc.Room, *, role: Role, owns_room: bool) -> None:
        self._room = room
        self._role = role
        self._owns_room = owns_room
        self._receives_audio = role_grants(role).receives_audio
        self._messages: asyncio.Queue[DataMessage | None] = asyncio.Queue(MESSAGE_QUEUE_MAX)
        self._events: asyncio.Queue[ParticipantEvent | None] = asyncio.Queue(EVENT_QUEUE_MAX)
        self._changed = asyncio.Event()
        # identity -> {stream: sid of the track it reads}
        self._streams: dict[str, dict[rtc.AudioStream, str]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._publisher: LiveKitAudioPublisher | None = None
        self._publish_lock = asyncio.Lock()
        self._own_attributes: dict[str, str] | None = None  # None: not set through us yet
        self._closed = False
        self._close_done = asyncio.Event()
        self.dropped_messages = 0
        self.dropped_events = 0
        self._handlers: dict[Any, Callable[..., None]] = {
            "participant_connected": self._on_participant_connected,
            "participant_disconnected": self._on_participant_disconnected,
            "track_published": self._on_track_published,
            "track_subscribed": self._on_track_subscribed,
            "track_unsubscribed": self._on_track_unsubscribed,
            "data_received": self._on_data_received,
            "participant_attributes_changed": self._on_attributes_changed,
            "disconnected": self._on_disconnected,
        }
        for event, handler in self._handlers.items():
            room.on(event, handler)

    @classmethod
    def from_room(cls, room: rtc.Room, *, role: Role = "agent") -> LiveKitRoomConnection:
        """Wrap an already-connected room (a livekit-agents job's `ctx.room`).

        `aclose` then unpublishes our track and detaches, but leaves the room
        connected: it belongs to the job.
        """
        return cls(room, role=role, owns_room=False)

    # --- identity -------------------------------------------------------------
    @property
    def room(self) -> rtc.Room:
        return self._room

    @property
    def identity(self) -> str:
        return self._room.local_participant.identity

    @property
    def room_name(self) -> str:
        return self._room.name

    @property
    def room_metadata(self) -> str:
        return self._room.metadata

    @property
    def closed(self) -> bool:
        return self._closed or not self._room.isconnected()

    def remote_identities(self) -> list[str]:
        return list(self._room.remote_participants)

    def is_agent(self, identity: str) -> bool | None:
        participant = self._room.remote_participants.get(identity)
        if participant is None:
            return None
        return participant.kind == rtc.ParticipantKind.PARTICIPANT_KIND_AGENT

    def has_audio_track(self, identity: str) -> bool:
        participant = self._room.remote_participants.get(identity)
        return participant is not None and any(
            pub.kind == rtc.TrackKind.KIND_AUDIO for pub in participant.track_publications.values()
        )

    # --- audio out ------------------------------------------------------------
    def receive_stats(self, identity: str) -> ReceiveStats | None:
        return None  # WebRTC keeps its own receive statistics; they are not read yet

    def audio_codec(self, identity: str) -> str | None:
        participant = self._room.remote_participants.get(identity)
        if participant is None:
            return None
        for pub in participant.track_publications.values():
            if pub.kind == rtc.TrackKind.KIND_AUDIO and pub.mime_type:
                return str(pub.mime_type)
        return None

    async def publish_audio(
        self, *, queue_size_ms: int = 100, max_bitrate_bps: int | None = None
    ) -> LiveKitAudioPublisher:
        async with self._publish_lock:
            if self._publisher is not None:
                return self._publisher
            if self._closed:
                raise TransportError("publish_audio on a closed LiveKit connection.")
            source = rtc.AudioSource(SAMPLE_RATE_HZ, 1, queue_size_ms=queue_size_ms)
            track = rtc.LocalAudioTrack.create_audio_track(TRACK_NAME, source)
            # every setting explicit, so that what is reported is what was asked for
            encoding = AudioEncoding(
                codec="opus", max_bitrate_bps=max_bitrate_bps, dtx=False, red=True, channels=1
            )
            options = rtc.TrackPublishOptions(
                source=rtc.TrackSource.SOURCE_MICROPHONE, dtx=encoding.dtx, red=encoding.red
            )
            if max_bitrate_bps is not None:
                options.audio_encoding.max_bitrate = int(max_bitrate_bps)
            try:
                async with asyncio.timeout(PUBLISH_TIMEOUT_S):
                    publication = await self._room.local_participant.publish_track(track, options)
            except TimeoutError:
                await source.aclose()
                raise TransportError(
                    f"LiveKit did not confirm the audio track of '{self.identity}' within "
                    f"{PUBLISH_TIMEOUT_S:g} s; a token without canPublish (role '{self._role}') "
                    "is refused this way."
                ) from None
            except Exception as exc:  # rtc.PublishTrackError and FFI errors
                await source.aclose()
                reason = getattr(exc, "message", None) or str(exc)
                raise TransportError(
                    f"LiveKit refused the audio track of '{self.identity}' "
                    f"(role '{self._role}'): {reason}."
                ) from None
            self._publisher = LiveKitAudioPublisher(source, track, publication.sid, encoding)
            return self._publisher

    # --- audio in -------------------------------------------------------------
    async def subscribe_audio(self, identity: str) -> AsyncIterator[ReceivedFrame]:
        if not self._receives_audio:
            raise TransportError(
                f"role '{self._role}' does not receive audio: AutoRTC never subscribes it "
                "(it joins with auto_subscribe off)."
            )
        track = await self._wait_for_audio_track(identity)
        if track is None:
            return
        stream = rtc.AudioStream(
            track,
            sample_rate=SAMPLE_RATE_HZ,
            num_channels=1,
            frame_size_ms=10,
            capacity=FRAME_QUEUE_MAX_FRAMES,
        )
        self._streams.setdefault(identity, {})[stream] = track.sid
        rechunker = FrameRechunker()
        try:
            async for event in stream:
                recv_t_ns = time.monotonic_ns()
                pcm = frame_to_pcm(event.frame)
                if len(pcm) == SAMPLES_PER_FRAME and rechunker.pending_samples == 0:
                    yield ReceivedFrame(pcm=pcm, recv_t_ns=recv_t_ns)
                    continue
                for frame in rechunker.push(pcm):
                    yield ReceivedFrame(pcm=frame, recv_t_ns=recv_t_ns)
        finally:
            self._streams.get(identity, {}).pop(stream, None)
            await _close_stream(stream)

    async def _wait_for_audio_track(self, identity: str) -> rtc.Track | None:
        """The subscribed audio track of `identity`; None if this connection closes
        or the participant leaves first."""
        seen = False
        while not self._closed:
            participant = self._room.remote_participants.get(identity)
            if participant is None and seen:
                return None
            if participant is not None:
                seen = True
                for pub in participant.track_publications.values():
                    if pub.kind != rtc.TrackKind.KIND_AUDIO:
                        continue
                    if pub.track is not None:
                        return pub.track
                    if not pub.subscribed:
                        pub.set_subscribed(True)  # for rooms joined without auto_subscribe
            await self._changed.wait()
        return None

    # --- messages -------------------------------------------------------------
    async def send_message(self, topic: str, payload: bytes) -> None:
        if self.closed:
            raise TransportError("send_message on a closed LiveKit connection (not in a room).")
        try:
            await self._room.local_participant.publish_data(payload, reliable=True, topic=topic)
        except Exception as exc:  # rtc.PublishDataError
            reason = getattr(exc, "message", None) or str(exc)
            raise TransportError(
                f"LiveKit refused a data message on topic '{topic}' from '{self.identity}': {reason}."
            ) from None

    # --- attributes -----------------------------------------------------------
    async def set_attributes(self, attributes: Mapping[str, str]) -> None:
        """`LocalParticipant.set_attributes`: the server merges (a key set to "" is
        deleted). The SDK (1.1.21) does not raise when the server refuses, so a room we
        joined with our own token is checked against the role's grant first."""
        update = validate_attributes(attributes)
        if self._owns_room and self._role not in ATTRIBUTE_ROLES:
            raise TransportError(
                f"role '{self._role}' may not set its attributes: its token has no "
                "canUpdateOwnMetadata (only the agent's has)."
            )
        if self.closed:
            raise TransportError("set_attributes on a closed LiveKit connection (not in a room).")
        local = self._room.local_participant
        try:
            async with asyncio.timeout(ATTRIBUTES_TIMEOUT_S):
                await local.set_attributes(update)
        except TimeoutError:
            raise TransportError(
                f"LiveKit did not confirm the attributes of '{self.identity}' within "
                f"{ATTRIBUTES_TIMEOUT_S:g} s."
            ) from None
        except Exception as exc:  # FFI errors
            reason = getattr(exc, "message", None) or str(exc)
            raise TransportError(
                f"LiveKit refused the attributes of '{self.identity}': {reason}."
            ) from None
        current = local.attributes if self._own_attributes is None else self._own_attributes
        self._own_attributes, _ = merge_attributes(current, update)

    def attributes(self, identity: str) -> dict[str, str]:
        """Own: as set through this connection (the SDK's copy of the local participant
        follows only when the server's echo arrives). Others: `Participant.attributes`."""
        participant = self._room.remote_participants.get(identity)
        if participant is not None:
            return dict(participant.attributes)
        try:
            local = self._room.local_participant
        except Exception:  # the SDK's plain Exception: this room never connected
            return {}
        if identity != local.identity:
            return {}
        return dict(local.attributes if self._own_attributes is None else self._own_attributes)

    async def messages(self) -> AsyncIterator[DataMessage]:
        while (msg := await self._messages.get()) is not None:
            yield msg
        self._messages.put_nowait(None)  # a later iterator ends at once too

    async def participant_events(self) -> AsyncIterator[ParticipantEvent]:
        while (event := await self._events.get()) is not None:
            yield event
        self._events.put_nowait(None)

    # --- SDK event handlers (synchronous, never block) ------------------------
    def _notify(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    def _put_event(
        self, kind: Any, participant: rtc.Participant, changed: Mapping[str, str] | None = None
    ) -> None:
        event = ParticipantEvent(
            kind=kind,
            identity=participant.identity,
            is_agent=is_agent_participant(participant),
            t_ns=time.monotonic_ns(),
            changed_attributes=dict(changed or {}),
        )
        try:
            self._events.put_nowait(event)
        except asyncio.QueueFull:
            self.dropped_events += 1
            logger.warning("participant event dropped: queue full", extra={"kind": kind})

    def _on_participant_connected(self, participant: rtc.RemoteParticipant) -> None:
        self._put_event("joined", participant)
        self._notify()

    def _on_participant_disconnected(self, participant: rtc.RemoteParticipant) -> None:
        self._put_event("left", participant)
        self._close_streams(participant.identity)
        self._notify()

    def _on_track_published(
        self, publication: rtc.RemoteTrackPublication, participant: rtc.RemoteParticipant
    ) -> None:
        if publication.kind == rtc.TrackKind.KIND_AUDIO:
            self._put_event("track_published", participant)
        self._notify()

    def _on_track_subscribed(self, *_args: Any) -> None:
        self._notify()

    def _on_attributes_changed(
        self, changed_attributes: dict[str, str], participant: rtc.Participant
    ) -> None:
        """The SDK has already stored the participant's new attributes; `changed_attributes`
        names each changed key, "" for a deleted one (rust-sdks `calculate_changed_attributes`)."""
        if isinstance(participant, rtc.LocalParticipant) or not changed_attributes:
            return  # our own: the seam reports the others only
        self._put_event("attributes_changed", participant, changed_attributes)

    def _on_track_unsubscribed(
        self,
        _track: rtc.Track | None,  # the SDK may pass None here
        publication: rtc.RemoteTrackPublication,
        participant: rtc.RemoteParticipant,
    ) -> None:
        self._close_streams(participant.identity, track_sid=publication.sid)
        self._notify()

    def _close_streams(self, identity: str, *, track_sid: str | None = None) -> None:
        """End the subscriptions to `identity` (only those reading `track_sid`, if given).

        The SDK never ends a track's AudioStream when its publisher unpublishes or
        leaves (no end-of-stream from the FFI for that), so we close it ourselves;
        `aclose` makes the FFI send end-of-stream and the iterator stops.
        """
        for stream, sid in list(self._streams.get(identity, {}).items()):
            if track_sid is None or sid == track_sid:
                self._spawn(_close_stream(stream), name=f"autortc-lk-close-{identity}")

    def _on_data_received(self, packet: rtc.DataPacket) -> None:
        msg = DataMessage(
            topic=packet.topic or "",
            payload=bytes(packet.data),
            sender=packet.participant.identity if packet.participant is not None else "",
            recv_t_ns=time.monotonic_ns(),
        )
        try:
            self._messages.put_nowait(msg)
        except asyncio.QueueFull:
            self.dropped_messages += 1
            logger.warning("data message dropped: queue full", extra={"topic": msg.topic})

    def _on_disconnected(self, reason: Any = None) -> None:
        logger.info("livekit room disconnected", extra={"reason": str(reason)})
        for identity in list(self._streams):  # e.g. ROOM_DELETED: no per-participant events
            self._close_streams(identity)
        self._end_queues()
        self._notify()

    def _spawn(self, coro: Any, *, name: str) -> None:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _end_queues(self) -> None:
        for queue in (self._messages, self._events):
            if queue.full():
                queue.get_nowait()  # make room for the end marker; the newest survive
            queue.put_nowait(None)

    # --- teardown -------------------------------------------------------------
    async def aclose(self) -> None:
        """Leave (or, for `from_room`, detach from) the room. Idempotent."""
        if self._closed:
            await self._close_done.wait()
            return
        self._closed = True
        try:
            for event, handler in self._handlers.items():
                self._room.off(event, handler)
            self._end_queues()
            self._notify()
            streams = [s for group in self._streams.values() for s in list(group)]
            for stream in streams:
                await _close_stream(stream)
            if self._tasks:
                await asyncio.wait(list(self._tasks), timeout=CLOSE_TIMEOUT_S)
            await self._close_publisher()
            if self._owns_room:
                async with asyncio.timeout(CLOSE_TIMEOUT_S):
                    await self._room.disconnect()
        except TimeoutError:
            logger.warning("livekit disconnect did not finish in time")
        finally:
            self._close_done.set()

    async def _close_publisher(self) -> None:
        publisher, self._publisher = self._publisher, None
        if publisher is None:
            return
        if not self._owns_room and self._room.isconnected():
            try:
                await self._room.local_participant.unpublish_track(publisher.track_sid)
            except Exception:  # the job's room may be closing already
                logger.warning("unpublish of autortc track failed", exc_info=True)
        await publisher.aclose()


async def _close_stream(stream: rtc.AudioStream) -> None:
    try:
        async with asyncio.timeout(CLOSE_TIMEOUT_S):
            await stream.aclose()
    except TimeoutError:
        logger.warning("audio stream did not close in time")
