"""LiveKitTransport against a real livekit-server (skipped unless LIVEKIT_URL is set).

    livekit-server --dev --bind 127.0.0.1
    LIVEKIT_URL=ws://127.0.0.1:7880 LIVEKIT_API_KEY=devkey LIVEKIT_API_SECRET=secret \
        .venv/bin/python -m pytest -m livekit tests/livekit
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import time
import uuid
from collections.abc import AsyncIterator

import numpy as np
import pytest
from livekit import rtc

from autortc.errors import TransportError
from autortc.transport.base import DataMessage, ParticipantEvent, ReceivedFrame
from autortc.transport.livekit import LiveKitTransport

pytestmark = [
    pytest.mark.livekit,
    pytest.mark.skipif(
        not os.environ.get("LIVEKIT_URL"), reason="LIVEKIT_URL not set: needs a real livekit-server"
    ),
]

USER, PROBE, AGENT = "autortc-user", "autortc-probe", "lk-test-agent"


@pytest.fixture
async def transport() -> AsyncIterator[LiveKitTransport]:
    t = LiveKitTransport.from_env(token_ttl_s=120)
    try:
        yield t
    finally:
        try:
            for room in await t.list_rooms("autortc-lktest-"):
                await t.delete_room(room)
        finally:
            await t.aclose()


async def _room(t: LiveKitTransport, tag: str, metadata: str = "{}") -> str:
    name = f"autortc-lktest-{tag}-{uuid.uuid4().hex[:6]}"
    await t.create_room(name, metadata=metadata, empty_timeout_s=30)
    return name


async def _until(pred, *, timeout_s: float, what: str) -> None:  # type: ignore[no-untyped-def]
    try:
        async with asyncio.timeout(timeout_s):
            while not pred():  # noqa: ASYNC110 - polling a plain predicate
                await asyncio.sleep(0.02)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


def _tone_frames(n_frames: int, freq_hz: float = 440.0) -> list[np.ndarray]:
    t = np.arange(n_frames * 480) / 48_000
    pcm = np.round(0.4 * 32767 * np.sin(2 * np.pi * freq_hz * t)).astype(np.int16)
    return [pcm[i * 480 : (i + 1) * 480] for i in range(n_frames)]


async def test_rooms_are_created_with_metadata_listed_by_prefix_and_deleted(
    transport: LiveKitTransport,
) -> None:
    meta = '{"autortc": {"v": 1, "trace_id": "lk-t1"}}'
    room = await _room(transport, "rooms", meta)
    assert room in await transport.list_rooms("autortc-lktest-rooms-")
    assert room not in await transport.list_rooms("no-such-prefix-")
    probe = await transport.connect(room, PROBE, role="probe")
    try:
        assert probe.room_name == room
        assert probe.room_metadata == meta
    finally:
        await probe.aclose()
    await transport.delete_room(room)
    assert room not in await transport.list_rooms("autortc-lktest-rooms-")
    await transport.delete_room(room)  # deleting again is not an error


async def test_agent_audio_reaches_the_probe_as_48k_10ms_frames(
    transport: LiveKitTransport,
) -> None:
    room = await _room(transport, "audio")
    probe = await transport.connect(room, PROBE, role="probe")
    agent = await transport.connect(room, AGENT, role="agent")
    frames: list[ReceivedFrame] = []

    async def receive() -> None:
        async for frame in probe.subscribe_audio(AGENT):
            frames.append(frame)
            if len(frames) >= 150:
                return

    receiver = asyncio.create_task(receive(), name="lk-test-receive")
    try:
        publisher = await agent.publish_audio(queue_size_ms=100)
        for pcm in _tone_frames(300):
            await publisher.capture_frame(pcm)
        async with asyncio.timeout(10):
            await receiver
    finally:
        receiver.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await receiver
        await agent.aclose()
        await probe.aclose()
    assert all(f.pcm.shape == (480,) and f.pcm.dtype == np.int16 for f in frames)
    assert all(b.recv_t_ns >= a.recv_t_ns for a, b in itertools.pairwise(frames))
    audio = np.concatenate([f.pcm for f in frames[-100:]]).astype(np.float64)
    assert np.sqrt(np.mean(audio**2)) > 1000  # the tone, through Opus
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(len(audio))))
    assert np.argmax(spectrum) * 48_000 / len(audio) == pytest.approx(440.0, abs=15.0)


async def test_messages_flow_both_ways_and_reach_the_user_who_never_subscribes(
    transport: LiveKitTransport,
) -> None:
    room = await _room(transport, "data")
    agent = await transport.connect(room, AGENT, role="agent")
    user = await transport.connect(room, USER, role="user")
    probe = await transport.connect(room, PROBE, role="probe")
    inbox: dict[str, list[DataMessage]] = {USER: [], AGENT: [], PROBE: []}

    async def drain(conn, box: list[DataMessage]) -> None:  # type: ignore[no-untyped-def]
        async for msg in conn.messages():
            box.append(msg)

    tasks = [
        asyncio.create_task(drain(c, inbox[c.identity]), name=f"lk-test-drain-{c.identity}")
        for c in (agent, user, probe)
    ]
    try:
        await _until(lambda: len(agent.remote_identities()) == 2, timeout_s=10, what="joins")
        await asyncio.sleep(0.5)
        for i in range(20):
            await agent.send_message("autortc.agent", f'{{"n": {i}}}'.encode())
        await user.send_message("autortc.user", b'{"hello": 1}')
        await _until(
            lambda: len(inbox[USER]) >= 20 and len(inbox[PROBE]) >= 21,
            timeout_s=10,
            what="messages",
        )
        await _until(lambda: len(inbox[AGENT]) >= 1, timeout_s=10, what="user -> agent")
    finally:
        for task in tasks:
            task.cancel()
        for conn in (agent, user, probe):
            await conn.aclose()
    assert [m.payload for m in inbox[USER]] == [f'{{"n": {i}}}'.encode() for i in range(20)]
    assert {(m.sender, m.topic) for m in inbox[USER]} == {(AGENT, "autortc.agent")}
    assert [(m.sender, m.topic, m.payload) for m in inbox[AGENT]] == [
        (USER, "autortc.user", b'{"hello": 1}')
    ]


async def test_probe_token_cannot_publish_audio_the_server_refuses(
    transport: LiveKitTransport,
) -> None:
    room = await _room(transport, "grants")
    agent = await transport.connect(room, AGENT, role="agent")
    probe = await transport.connect(room, PROBE, role="probe")
    events: list[ParticipantEvent] = []

    async def watch() -> None:
        async for event in agent.participant_events():
            events.append(event)

    watcher = asyncio.create_task(watch(), name="lk-test-watch")
    try:
        t0 = time.monotonic()
        with pytest.raises(TransportError) as info:
            await probe.publish_audio()
        assert time.monotonic() - t0 < 15
        assert PROBE in str(info.value)
        await asyncio.sleep(1.0)
        assert not agent.has_audio_track(PROBE)
        assert ("track_published", PROBE) not in [(e.kind, e.identity) for e in events]
        # the server also reports the missing permission for the probe
        permissions = probe.room.local_participant.permissions
        assert permissions.can_publish is False
        assert permissions.can_subscribe is True
        assert permissions.can_publish_data is True
    finally:
        watcher.cancel()
        await probe.aclose()
        await agent.aclose()


async def test_user_is_never_subscribed_to_audio_and_agent_kind_is_agent(
    transport: LiveKitTransport,
) -> None:
    room = await _room(transport, "user")
    agent = await transport.connect(room, AGENT, role="agent")
    user = await transport.connect(room, USER, role="user")
    try:
        publisher = await agent.publish_audio()
        for pcm in _tone_frames(50):
            await publisher.capture_frame(pcm)
        await _until(lambda: user.has_audio_track(AGENT), timeout_s=10, what="agent track visible")
        with pytest.raises(TransportError, match="does not receive audio"):
            await anext(user.subscribe_audio(AGENT))
        remote = user.room.remote_participants[AGENT]
        assert remote.kind == rtc.ParticipantKind.PARTICIPANT_KIND_AGENT
        await asyncio.sleep(0.5)  # time enough for an (unwanted) auto-subscription
        assert all(not pub.subscribed for pub in remote.track_publications.values())
        assert all(pub.track is None for pub in remote.track_publications.values())
    finally:
        await user.aclose()
        await agent.aclose()


async def test_a_wrong_secret_is_rejected_in_one_sentence() -> None:
    bad = LiveKitTransport(
        url=os.environ["LIVEKIT_URL"],
        api_key=os.environ.get("LIVEKIT_API_KEY", "devkey"),
        api_secret="definitely-not-the-secret-0123456789",
    )
    try:
        with pytest.raises(TransportError, match="LIVEKIT_API_KEY/SECRET rejected by"):
            await bad.list_rooms()
    finally:
        await bad.aclose()
