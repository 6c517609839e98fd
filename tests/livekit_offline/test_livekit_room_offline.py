"""LiveKitRoomConnection's event mapping and AudioPublisher, driven without a server.

The SDK's `rtc.Room` is an EventEmitter: emitting its documented events on an
unconnected room drives our handlers exactly as its listen task would.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import numpy as np
import pytest
from livekit import rtc

from autortc.errors import TransportError, UsageError
from autortc.transport.base import AudioEncoding
from autortc.transport.livekit_frames import pcm_to_frame
from autortc.transport.livekit_publisher import LiveKitAudioPublisher
from autortc.transport.livekit_room import LiveKitRoomConnection


@dataclass
class FakeParticipant:
    identity: str
    kind: int = rtc.ParticipantKind.PARTICIPANT_KIND_STANDARD


@dataclass
class FakePublication:
    kind: int


async def test_data_packets_become_messages_with_topic_sender_and_time() -> None:
    room = rtc.Room()
    conn = LiveKitRoomConnection(room, role="probe", owns_room=True)
    t0 = time.monotonic_ns()
    room.emit(
        "data_received", rtc.DataPacket(b'{"a":1}', 0, FakeParticipant("agent-x"), "autortc.agent")
    )  # type: ignore[arg-type]
    room.emit("data_received", rtc.DataPacket(b"srv", 0, None, None))
    it = conn.messages()
    first = await anext(it)
    second = await anext(it)
    assert (first.topic, first.payload, first.sender) == ("autortc.agent", b'{"a":1}', "agent-x")
    assert first.recv_t_ns >= t0
    assert (second.topic, second.sender) == ("", "")
    await conn.aclose()
    with pytest.raises(StopAsyncIteration):
        await anext(it)


async def test_participant_events_map_kind_and_identity_rule_to_is_agent() -> None:
    room = rtc.Room()
    conn = LiveKitRoomConnection(room, role="probe", owns_room=True)
    room.emit("participant_connected", FakeParticipant("autortc-user"))
    room.emit("participant_connected", FakeParticipant("my-agent"))
    room.emit(
        "participant_connected",
        FakeParticipant("autortc-probe", rtc.ParticipantKind.PARTICIPANT_KIND_AGENT),
    )
    room.emit(
        "track_published", FakePublication(rtc.TrackKind.KIND_VIDEO), FakeParticipant("my-agent")
    )
    room.emit(
        "track_published", FakePublication(rtc.TrackKind.KIND_AUDIO), FakeParticipant("my-agent")
    )
    room.emit("participant_disconnected", FakeParticipant("my-agent"))
    await conn.aclose()
    events = [e async for e in conn.participant_events()]
    assert [(e.kind, e.identity, e.is_agent) for e in events] == [
        ("joined", "autortc-user", False),
        ("joined", "my-agent", True),
        ("joined", "autortc-probe", True),  # participant kind AGENT wins
        ("track_published", "my-agent", True),  # the video publication is not reported
        ("left", "my-agent", True),
    ]


async def test_user_role_cannot_subscribe_audio_and_says_why() -> None:
    conn = LiveKitRoomConnection(rtc.Room(), role="user", owns_room=True)
    with pytest.raises(TransportError, match="does not receive audio"):
        await anext(conn.subscribe_audio("my-agent"))
    await conn.aclose()


async def test_closing_ends_a_subscription_still_waiting_for_its_track(
    virtual_clock: object,
) -> None:
    conn = LiveKitRoomConnection(rtc.Room(), role="probe", owns_room=True)
    waiter = asyncio.create_task(anext(conn.subscribe_audio("my-agent"), None), name="wait-sub")
    await asyncio.sleep(0.05)
    assert not waiter.done()
    await conn.aclose()
    async with asyncio.timeout(2):
        assert await waiter is None


async def test_connection_aclose_is_idempotent_and_then_refuses_sends() -> None:
    conn = LiveKitRoomConnection(rtc.Room(), role="agent", owns_room=True)
    await asyncio.gather(conn.aclose(), conn.aclose())
    await conn.aclose()
    with pytest.raises(TransportError, match="closed"):
        await conn.send_message("autortc.agent", b"{}")
    with pytest.raises(TransportError, match="closed"):
        await conn.publish_audio()


async def test_a_full_message_queue_drops_and_counts_instead_of_blocking(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("autortc.transport.livekit_room.MESSAGE_QUEUE_MAX", 3)
    room = rtc.Room()
    conn = LiveKitRoomConnection(room, role="probe", owns_room=True)
    for i in range(5):
        room.emit("data_received", rtc.DataPacket(str(i).encode(), 0, None, "t"))
    assert conn.dropped_messages == 2
    await conn.aclose()
    assert [m.payload async for m in conn.messages()] == [
        b"1",
        b"2",
    ]  # one slot went to the end marker


async def test_publisher_paces_frames_in_real_time_and_reports_the_queue() -> None:
    source = rtc.AudioSource(48_000, 1, queue_size_ms=100)
    track = rtc.LocalAudioTrack.create_audio_track("t", source)
    publisher = LiveKitAudioPublisher(source, track, "TR_offline", AudioEncoding(codec="opus"))
    frame = np.full(480, 1000, dtype=np.int16)
    t0 = time.monotonic()
    for _ in range(30):  # 300 ms of audio through a 100 ms queue
        await publisher.capture_frame(frame)
    elapsed_s = time.monotonic() - t0
    assert 0.12 < elapsed_s < 0.6
    assert 0.0 < publisher.queued_duration_s <= 0.15
    publisher.clear_queue()
    assert publisher.queued_duration_s == 0.0
    with pytest.raises(UsageError, match="480"):
        await publisher.capture_frame(np.zeros(160, dtype=np.int16))
    await publisher.aclose()
    await publisher.aclose()
    with pytest.raises(TransportError):
        await publisher.capture_frame(frame)


@dataclass
class FakeRemote:
    """A remote participant as `rtc.Room.remote_participants` holds it (the parts we read)."""

    identity: str
    track_publications: dict[str, object]
    kind: int = rtc.ParticipantKind.PARTICIPANT_KIND_AGENT


@dataclass
class FakeAudioPublication:
    track: rtc.Track
    sid: str = "TR_x"
    kind: int = rtc.TrackKind.KIND_AUDIO
    subscribed: bool = True


def _room_with_remote_audio(
    identity: str,
) -> tuple[rtc.Room, rtc.AudioSource, rtc.Track, FakeRemote]:
    """An unconnected room whose remote participant `identity` 'publishes' a real SDK
    track (a local track stands in for the remote one: same AudioStream path in the FFI)."""
    room = rtc.Room()
    source = rtc.AudioSource(48_000, 1, queue_size_ms=100)
    track = rtc.LocalAudioTrack.create_audio_track("remote-stand-in", source)
    track._info.sid = "TR_x"  # an unpublished track has no sid; a remote one always has
    remote = FakeRemote(identity, {"TR_x": FakeAudioPublication(track)})
    room._remote_participants[identity] = remote  # type: ignore[assignment]
    return room, source, track, remote


@pytest.mark.parametrize("how", ["track_unsubscribed", "participant_disconnected", "disconnected"])
async def test_subscription_ends_when_the_track_goes_away(how: str) -> None:
    """The SDK sends no end-of-stream for a track's AudioStream when its publisher
    unpublishes or leaves; the connection must end the iterator itself."""
    room, source, _track, remote = _room_with_remote_audio("my-agent")
    conn = LiveKitRoomConnection(room, role="probe", owns_room=True)
    frames: list[np.ndarray] = []

    async def receive() -> None:
        async for frame in conn.subscribe_audio("my-agent"):
            frames.append(frame.pcm)

    receiver = asyncio.create_task(receive(), name="offline-sub")
    try:
        tone = np.full(480, 3000, dtype=np.int16)
        async with asyncio.timeout(5):
            while len(frames) < 10:
                await source.capture_frame(pcm_to_frame(tone))
        assert all(f.shape == (480,) and f.dtype == np.int16 for f in frames)
        if how == "track_unsubscribed":
            # the SDK may emit the event with track None: the publication names it
            room.emit("track_unsubscribed", None, remote.track_publications["TR_x"], remote)
        elif how == "participant_disconnected":
            del room._remote_participants["my-agent"]
            room.emit("participant_disconnected", remote)
        else:  # the server closed the room (ROOM_DELETED): only `disconnected` fires
            room.emit("disconnected", rtc.DisconnectReason.ROOM_DELETED)
        async with asyncio.timeout(5):
            await receiver  # ends by itself
        assert receiver.exception() is None
        assert conn._streams["my-agent"] == {}
    finally:
        receiver.cancel()
        await conn.aclose()
        await source.aclose()


async def test_unsubscribing_another_track_leaves_the_subscription_running() -> None:
    room, source, _track, remote = _room_with_remote_audio("my-agent")
    conn = LiveKitRoomConnection(room, role="probe", owns_room=True)
    other_source = rtc.AudioSource(48_000, 1)
    other = rtc.LocalAudioTrack.create_audio_track("other", other_source)
    other._info.sid = "TR_other"
    frames: list[np.ndarray] = []

    async def receive() -> None:
        async for frame in conn.subscribe_audio("my-agent"):
            frames.append(frame.pcm)

    receiver = asyncio.create_task(receive(), name="offline-sub-other")
    try:
        async with asyncio.timeout(5):
            while len(frames) < 5:
                await source.capture_frame(pcm_to_frame(np.zeros(480, dtype=np.int16)))
        room.emit("track_unsubscribed", other, FakeAudioPublication(other, "TR_other"), remote)
        n = len(frames)
        async with asyncio.timeout(5):
            while len(frames) < n + 5:
                await source.capture_frame(pcm_to_frame(np.zeros(480, dtype=np.int16)))
        assert not receiver.done()
    finally:
        await conn.aclose()
        async with asyncio.timeout(5):
            await asyncio.gather(receiver, return_exceptions=True)
        await source.aclose()
        await other_source.aclose()
