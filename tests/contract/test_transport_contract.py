"""The transport contract: behaviours every transport behind the seam must show.

Written against Transport/RoomConnection/AudioPublisher only (autortc/transport/base.py),
so the same tests run on the embedded local server and on a real livekit-server.
Audio checks hold through a codec: level (RMS within 3 dB) and pitch (dominant
frequency), plus bit-exact PCM where the transport is lossless.
"""

from __future__ import annotations

import asyncio
import itertools

import numpy as np
import pytest

from autortc.errors import TransportError
from autortc.transport.base import (
    AudioEncoding,
    DataMessage,
    ParticipantEvent,
    ReceivedFrame,
    RoomConnection,
)

from .helpers import (
    TransportFactory,
    collect,
    dominant_freq_hz,
    is_silent,
    rms_dbfs,
    stop,
    tone_frames,
    until,
)

AGENT = "contract-agent"


def now_s() -> float:
    """The event loop's clock: real time on a real loop, virtual time on a virtual one."""
    return asyncio.get_running_loop().time()


def now_ns() -> int:
    return round(now_s() * 1e9)


PROBE = "autortc-probe"
USER = "autortc-user"


async def _feed(publisher_conn: RoomConnection, freq_hz: float = 440.0) -> None:
    """Publish a continuous tone until cancelled."""
    publisher = await publisher_conn.publish_audio(queue_size_ms=100)
    frames = tone_frames(freq_hz, 100)
    while True:
        for frame in frames:
            await publisher.capture_frame(frame)


async def test_room_create_list_delete_round_trip(transport_factory: TransportFactory) -> None:
    transport = transport_factory.transport
    room = await transport_factory.new_room("crud", metadata='{"k": 1}')
    assert room in await transport.list_rooms(prefix="autortc-contract-crud-")
    assert room not in await transport.list_rooms(prefix="no-such-prefix-")
    conn = await transport.connect(room, PROBE, role="probe")
    assert conn.room_name == room
    assert conn.identity == PROBE
    assert conn.room_metadata == '{"k": 1}'
    await conn.aclose()
    await transport.delete_room(room)
    assert room not in await transport.list_rooms(prefix="autortc-contract-crud-")


async def test_participant_events_report_joined_track_published_and_left(
    transport_factory: TransportFactory,
) -> None:
    transport = transport_factory.transport
    room = await transport_factory.new_room("events")
    probe = await transport.connect(room, PROBE, role="probe")
    events: list[ParticipantEvent] = []
    collector = collect(probe.participant_events(), events, "contract-events")
    try:
        agent = await transport.connect(room, AGENT, role="agent")
        await agent.publish_audio()
        user = await transport.connect(room, USER, role="user")
        await until(
            lambda: (
                any(e.kind == "track_published" and e.identity == AGENT for e in events)
                and any(e.kind == "joined" and e.identity == USER for e in events)
            ),
            timeout_s=10,
            what="joined + track_published events",
        )
        assert set(probe.remote_identities()) == {AGENT, USER}
        assert probe.has_audio_track(AGENT)
        assert not probe.has_audio_track(USER)
        kinds = [(e.kind, e.identity) for e in events]
        assert kinds.index(("joined", AGENT)) < kinds.index(("track_published", AGENT))
        by_identity = {e.identity: e.is_agent for e in events}
        assert by_identity == {AGENT: True, USER: False}
        assert all(e.t_ns > 0 for e in events)

        await agent.aclose()
        await until(
            lambda: ("left", AGENT) in [(e.kind, e.identity) for e in events],
            timeout_s=10,
            what="left event",
        )
        assert AGENT not in probe.remote_identities()
        await user.aclose()
    finally:
        await stop(collector)
        await probe.aclose()


async def test_late_joiner_sees_present_participants_and_their_tracks(
    transport_factory: TransportFactory,
) -> None:
    transport = transport_factory.transport
    room = await transport_factory.new_room("late")
    agent = await transport.connect(room, AGENT, role="agent")
    feeder = asyncio.create_task(_feed(agent), name="contract-feed")
    user = await transport.connect(room, USER, role="user")
    probe: RoomConnection | None = None
    try:
        await until(lambda: user.has_audio_track(AGENT), timeout_s=10, what="agent track")
        probe = await transport.connect(room, PROBE, role="probe")
        await until(
            lambda: (
                set(probe.remote_identities()) == {AGENT, USER} and probe.has_audio_track(AGENT)
            ),
            timeout_s=10,
            what="participants present before the probe joined",
        )
        assert not probe.has_audio_track(USER)
        async with asyncio.timeout(10):
            async for frame in probe.subscribe_audio(AGENT):
                assert frame.pcm.shape == (480,)
                break
    finally:
        await stop(feeder)
        for conn in (probe, user, agent):
            if conn is not None:
                await conn.aclose()


async def test_published_tone_arrives_in_order_with_same_level_and_pitch(
    transport_factory: TransportFactory,
) -> None:
    transport = transport_factory.transport
    room = await transport_factory.new_room("tone")
    probe = await transport.connect(room, PROBE, role="probe")
    agent = await transport.connect(room, AGENT, role="agent")
    sent = tone_frames(440.0, 50) + tone_frames(880.0, 50)
    silence = np.zeros(480, dtype=np.int16)
    received: list[ReceivedFrame] = []
    listening = asyncio.Event()
    n_before = 0
    encodings: list[AudioEncoding] = []
    codecs: list[str | None] = []

    async def receive() -> None:
        nonlocal n_before
        async for frame in probe.subscribe_audio(AGENT):
            n_before += 1
            if n_before >= 10:  # the path is up and has carried 100 ms of audio
                listening.set()
            if received or not is_silent(frame.pcm):
                received.append(frame)
            if len(received) >= len(sent):
                codecs.append(probe.audio_codec(AGENT))  # while the track is there
                return

    async def send() -> None:
        publisher = await agent.publish_audio(queue_size_ms=100, max_bitrate_bps=64_000)
        encodings.append(publisher.encoding)
        # the protocol's barrier in small: audio sent before anyone listens is lost,
        # so the tone starts only once the subscriber is receiving (silent) frames
        while not listening.is_set():
            await publisher.capture_frame(silence)
        for frame in sent:
            await publisher.capture_frame(frame)
        while True:  # keep the 10 ms clock running until the receiver is done
            await publisher.capture_frame(silence)

    receiver = asyncio.create_task(receive(), name="contract-receive")
    sender = asyncio.create_task(send(), name="contract-send")
    try:
        async with asyncio.timeout(15):
            await receiver
    finally:
        await stop(receiver, sender)
        await agent.aclose()
        await probe.aclose()

    assert len(received) == len(sent)
    assert all(f.pcm.dtype == np.int16 and f.pcm.shape == (480,) for f in received)
    got = np.concatenate([f.pcm for f in received])
    want = np.concatenate(sent)
    assert abs(rms_dbfs(got) - rms_dbfs(want)) < 3.0
    # order: the 440 Hz half arrives before the 880 Hz half
    assert dominant_freq_hz(got[5 * 480 : 45 * 480]) == pytest.approx(440.0, abs=15)
    assert dominant_freq_hz(got[55 * 480 : 95 * 480]) == pytest.approx(880.0, abs=15)
    if transport_factory.lossless:
        assert np.array_equal(got, want)
    # the codec travels with the figures: what was published, and what arrived
    (encoding,) = encodings
    (codec,) = codecs
    assert codec is not None
    assert codec.startswith("audio/")
    if transport_factory.lossless:
        assert (encoding.codec, codec) == ("pcm", "audio/L16")
    else:
        assert (encoding.codec, encoding.max_bitrate_bps) == ("opus", 64_000)
        assert "opus" in codec or "red" in codec
    assert encoding.describe()


async def test_receive_timestamps_are_monotonic_and_real_time(
    transport_factory: TransportFactory,
) -> None:
    transport = transport_factory.transport
    room = await transport_factory.new_room("stamps")
    probe = await transport.connect(room, PROBE, role="probe")
    agent = await transport.connect(room, AGENT, role="agent")
    feeder = asyncio.create_task(_feed(agent), name="contract-feed")
    stamps: list[int] = []
    try:
        async with asyncio.timeout(10):
            async for frame in probe.subscribe_audio(AGENT):
                stamps.append(frame.recv_t_ns)
                if len(stamps) >= 60:
                    break
    finally:
        await stop(feeder)
        await agent.aclose()
        await probe.aclose()
    assert all(b >= a for a, b in itertools.pairwise(stamps))
    assert stamps[0] <= now_ns()
    span_s = (stamps[-1] - stamps[0]) / 1e9
    assert 0.59 * 0.7 < span_s < 0.59 * 1.5  # 59 frame intervals of 10 ms, not a burst


async def test_publisher_paces_100_frames_in_one_second(
    transport_factory: TransportFactory,
) -> None:
    transport = transport_factory.transport
    room = await transport_factory.new_room("pacing")
    agent = await transport.connect(room, AGENT, role="agent")
    try:
        publisher = await agent.publish_audio(queue_size_ms=100)
        frames = tone_frames(440.0, 100)
        t0 = now_s()
        for frame in frames:
            await publisher.capture_frame(frame)
        await publisher.wait_for_playout()
        elapsed_s = now_s() - t0
    finally:
        await agent.aclose()
    assert 0.85 < elapsed_s < 1.15, f"100 frames took {elapsed_s:.3f} s"


async def test_queued_duration_is_bounded_by_queue_size_and_cleared(
    transport_factory: TransportFactory,
) -> None:
    transport = transport_factory.transport
    room = await transport_factory.new_room("queue")
    agent = await transport.connect(room, AGENT, role="agent")
    try:
        publisher = await agent.publish_audio(queue_size_ms=50)
        observed: list[float] = []
        for frame in tone_frames(440.0, 30):
            await publisher.capture_frame(frame)
            observed.append(publisher.queued_duration_s)
        assert max(observed) <= 0.050 + 0.011
        assert max(observed) >= 0.020  # a producer faster than real time fills the queue
        publisher.clear_queue()
        assert publisher.queued_duration_s == pytest.approx(0.0, abs=0.011)
        t0 = now_s()
        async with asyncio.timeout(2):
            await publisher.wait_for_playout()
        assert now_s() - t0 < 0.5
    finally:
        await agent.aclose()


async def test_messages_are_reliable_ordered_and_not_echoed_to_sender(
    transport_factory: TransportFactory,
) -> None:
    transport = transport_factory.transport
    room = await transport_factory.new_room("msgs")
    conns = [
        await transport.connect(room, identity, role=role)
        for identity, role in ((AGENT, "agent"), (PROBE, "probe"), (USER, "user"))
    ]
    agent, probe, _user = conns
    inboxes: dict[str, list[DataMessage]] = {c.identity: [] for c in conns}
    collectors = [collect(c.messages(), inboxes[c.identity], f"msgs-{c.identity}") for c in conns]
    try:
        await until(
            lambda: len(agent.remote_identities()) == 2, timeout_s=10, what="all three joined"
        )
        await asyncio.sleep(0.2)  # let data channels settle (no-op on local)
        payloads = [f'{{"n": {i}}}'.encode() for i in range(50)]
        for payload in payloads:
            await agent.send_message("autortc.contract", payload)
        for who in (PROBE, USER):
            await until(
                lambda who=who: len(inboxes[who]) >= 50,  # type: ignore[misc]
                timeout_s=10,
                what=f"50 messages at {who}",
            )
            got = inboxes[who]
            assert [m.payload for m in got] == payloads
            assert {m.sender for m in got} == {AGENT}
            assert {m.topic for m in got} == {"autortc.contract"}
            assert all(b.recv_t_ns >= a.recv_t_ns for a, b in itertools.pairwise(got))
        await probe.send_message("autortc.contract", b"done")
        await until(lambda: len(inboxes[AGENT]) >= 1, timeout_s=10, what="reply at sender")
        assert [(m.sender, m.payload) for m in inboxes[AGENT]] == [(PROBE, b"done")]
    finally:
        await stop(*collectors)
        for conn in conns:
            await conn.aclose()


async def test_subscribe_before_the_track_exists_waits_for_it(
    transport_factory: TransportFactory,
) -> None:
    transport = transport_factory.transport
    room = await transport_factory.new_room("early")
    probe = await transport.connect(room, PROBE, role="probe")

    async def first_frame() -> ReceivedFrame:
        async for frame in probe.subscribe_audio(AGENT):
            return frame
        raise AssertionError("subscription ended without a frame")

    waiter = asyncio.create_task(first_frame(), name="contract-early-sub")
    feeder: asyncio.Task[None] | None = None
    try:
        await asyncio.sleep(0.3)
        assert not waiter.done()
        agent = await transport.connect(room, AGENT, role="agent")
        t_publish_ns = now_ns()
        feeder = asyncio.create_task(_feed(agent), name="contract-feed")
        async with asyncio.timeout(10):
            frame = await waiter
        assert frame.recv_t_ns >= t_publish_ns
        assert frame.pcm.shape == (480,)
    finally:
        if feeder is not None:
            await stop(feeder)
        await stop(waiter)
        await probe.aclose()


async def test_leaving_ends_the_subscribers_iterator(transport_factory: TransportFactory) -> None:
    transport = transport_factory.transport
    room = await transport_factory.new_room("leave")
    probe = await transport.connect(room, PROBE, role="probe")
    agent = await transport.connect(room, AGENT, role="agent")
    feeder = asyncio.create_task(_feed(agent), name="contract-feed")
    frames: list[ReceivedFrame] = []
    receiver = collect(probe.subscribe_audio(AGENT), frames, "contract-leave-sub")
    try:
        await until(lambda: len(frames) >= 5, timeout_s=10, what="first frames")
        await stop(feeder)
        await agent.aclose()
        async with asyncio.timeout(10):
            await receiver  # ends by itself: no cancellation needed
        assert receiver.exception() is None
    finally:
        await stop(feeder, receiver)
        await probe.aclose()


async def test_closing_a_connection_ends_its_own_subscription(
    transport_factory: TransportFactory,
) -> None:
    transport = transport_factory.transport
    room = await transport_factory.new_room("selfclose")
    probe = await transport.connect(room, PROBE, role="probe")
    frames: list[ReceivedFrame] = []
    receiver = collect(probe.subscribe_audio(AGENT), frames, "contract-selfclose-sub")
    try:
        await asyncio.sleep(0.1)
        await probe.aclose()
        async with asyncio.timeout(5):
            await receiver
        assert frames == []
    finally:
        await stop(receiver)


async def test_aclose_is_idempotent(transport_factory: TransportFactory) -> None:
    transport = transport_factory()
    room = await transport_factory.new_room("aclose")
    conn = await transport.connect(room, AGENT, role="agent")
    await conn.publish_audio()
    assert not conn.closed
    await conn.aclose()
    assert conn.closed
    await conn.aclose()
    with pytest.raises(TransportError):
        await conn.send_message("autortc.contract", b"after close")
    await transport.aclose()
    await transport.aclose()


async def test_probe_cannot_publish_audio(transport_factory: TransportFactory) -> None:
    """Least privilege: the probe's grants allow listening and data, never audio."""
    transport = transport_factory()
    room = await transport_factory.new_room("noprobe")
    probe = await transport.connect(room, PROBE, role="probe")
    try:
        with pytest.raises(TransportError):
            async with asyncio.timeout(15):
                await probe.publish_audio()
    finally:
        await probe.aclose()
        await transport.aclose()
