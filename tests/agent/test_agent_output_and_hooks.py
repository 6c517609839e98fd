"""TransportAudioOutput (silence / exact reply PCM / clear_buffer) and AutortcHooks."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import numpy as np
import pytest
from livekit import rtc

from agent.io_adapters import TransportAudioOutput
from autortc.audio import read_wav, split_frames
from autortc.clock import LoopClock
from autortc.integrations.livekit_agents import AutortcHooks
from autortc.protocol import TOPIC_PROBE, ReplyEnd, RoomMeta, encode, make_message
from autortc.transport.memory import MemoryHub

TRACE_ID = "trace-unit"


def frames_of(pcm: np.ndarray) -> list[rtc.AudioFrame]:
    """Arbitrary-size frames (the output must re-frame them to 480 samples)."""
    out, i = [], 0
    for size in [333, 700, 480, 1000]:
        if i >= len(pcm):
            break
        chunk = pcm[i : i + size]
        out.append(
            rtc.AudioFrame(
                data=chunk.tobytes(),
                sample_rate=48000,
                num_channels=1,
                samples_per_channel=len(chunk),
            )
        )
        i += size
    if i < len(pcm):
        rest = pcm[i:]
        out.append(rtc.AudioFrame(rest.tobytes(), 48000, 1, len(rest)))
    return out


def ramp(n: int) -> np.ndarray:
    return (np.arange(n) % 2000 + 1).astype(np.int16)


class FakeSession(rtc.EventEmitter):
    """The part of AgentSession the hooks use: events, agent_state, output.audio."""

    class _Output:
        audio: Any = None

    def __init__(self) -> None:
        super().__init__()
        self.agent_state = "initializing"
        self.output = self._Output()


CLOCK = LoopClock()  # the tests run in virtual time: sleeps below cost nothing


async def _output_with_room():
    hub = MemoryHub(clock=CLOCK)
    room = hub.open_room("r", metadata=RoomMeta("run000001", "c1", TRACE_ID, 1).to_json())
    conn = room.join("agent-x", "agent")
    publisher = await conn.publish_audio(queue_size_ms=100)
    out = TransportAudioOutput(publisher, lead_ms=30, clock=CLOCK)
    return room, conn, publisher, out


async def test_output_publishes_silence_when_idle_then_the_exact_reply_pcm(virtual_clock):
    _, _, publisher, out = await _output_with_room()
    events: list[str] = []
    out.on("playback_started", lambda ev: events.append("started"))
    out.on("playback_finished", lambda ev: events.append(f"finished:{ev.interrupted}"))
    async with asyncio.TaskGroup() as tg:
        pump = tg.create_task(out.run())
        await asyncio.sleep(0.2)
        assert len(publisher.sent) >= 15  # ~10 ms per frame, silence
        assert not np.any(publisher.sent_pcm())
        reply = ramp(4800 + 123)  # 100 ms + a partial frame
        for f in frames_of(reply):
            await out.capture_frame(f)
        out.flush()
        ev = await asyncio.wait_for(out.wait_for_playout(), 2)
        assert ev.interrupted is False
        assert ev.playback_position == pytest.approx(11 * 480 / 48000)
        await asyncio.sleep(0.2)
        pump.cancel()
    rec = out.records[0]
    assert np.array_equal(rec.pcm[: len(reply)], reply)  # exactly the reply, re-framed
    assert not np.any(rec.pcm[len(reply) :])  # zero-padded last frame
    sent = publisher.sent_pcm()
    start = int(np.flatnonzero(sent)[0])
    assert start % 480 == 0
    assert np.array_equal(sent[start : start + len(rec.pcm)], rec.pcm)  # what left = record
    assert not np.any(sent[start + len(rec.pcm) :])  # silence again afterwards
    assert rec.first_frame_t_ns < rec.done_t_ns
    assert events == ["started", "finished:False"]


async def test_output_clear_buffer_stops_within_one_frame_and_clears_the_queue(virtual_clock):
    _, _, publisher, out = await _output_with_room()
    finished: list[Any] = []
    out.on("playback_finished", finished.append)
    async with asyncio.TaskGroup() as tg:
        pump = tg.create_task(out.run())
        for f in frames_of(ramp(48000 * 2)):
            await out.capture_frame(f)
        out.flush()
        await asyncio.sleep(0.3)
        sent_before = len(publisher.sent)
        out.clear_buffer()
        t_clear = CLOCK.now_ns()
        assert publisher.clear_calls == 1
        assert finished[0].interrupted is True
        await asyncio.sleep(0.2)
        pump.cancel()
    # after the clear, at most one reply frame (the one being handed over) leaves
    audible_after = [t for t, p in publisher.sent[sent_before:] if np.any(p) and t > t_clear]
    assert len(audible_after) <= 1
    rec = out.records[0]
    assert rec.interrupted is True
    assert 0.2 * 48000 < len(rec.pcm) < 0.5 * 48000
    assert finished[0].playback_position == pytest.approx(len(rec.pcm) / 48000)


async def test_hooks_answer_probe_ready_only_for_their_trace_once_ready_and_drop_duplicates(
    tmp_path, virtual_clock
):
    room, conn, _, out = await _output_with_room()
    probe = room.join("autortc-probe", "probe")
    session = FakeSession()
    session.output.audio = out
    hooks = AutortcHooks.attach(
        session, room=conn, pre_rtc_dir=tmp_path, audio_track_published=True, clock=CLOCK
    )
    received: list[dict] = []

    async def listen() -> None:
        async for m in probe.messages():
            received.append(json.loads(m.payload))

    async def send(trace_id: str, msg_id: str | None = None) -> str:
        msg = make_message("probe_ready", trace_id=trace_id, case_id="c1", t_ns=1, msg_id=msg_id)
        await probe.send_message(TOPIC_PROBE, encode(msg))
        await asyncio.sleep(0.05)
        return msg.msg_id

    async with asyncio.TaskGroup() as tg:
        lt = tg.create_task(listen())
        await send(TRACE_ID)  # session not started yet: no answer
        assert not received
        session.agent_state = "listening"
        session.emit("agent_state_changed", None)  # started: the pending probe is answered
        await asyncio.sleep(0.05)
        assert len(received) == 1
        stale = await send("old-trace")
        dup = await send(TRACE_ID, msg_id="m-1")
        await send(TRACE_ID, msg_id="m-1")  # redelivered: dropped
        await probe.send_message(TOPIC_PROBE, b"{not json")
        await asyncio.sleep(0.05)
        await hooks.aclose()
        await hooks.aclose()  # idempotent
        await probe.aclose()
        lt.cancel()
    ready = [m for m in received if m["type"] == "agent_ready"]
    assert [m["in_reply_to"] for m in ready][1:] == [dup]
    assert all(m["in_reply_to"] != stale for m in ready)
    assert all(m["trace_id"] == TRACE_ID for m in ready)
    assert hooks.filter.counters() == {"stale": 1, "duplicate": 1, "bad": 1, "wrong_sender": 0}


async def test_hooks_wait_until_the_agent_hears_the_user_before_agent_ready(
    tmp_path, virtual_clock
):
    room, conn, _, out = await _output_with_room()
    probe = room.join("autortc-probe", "probe")
    session = FakeSession()
    session.agent_state = "listening"
    session.output.audio = out
    hears = False
    hooks = AutortcHooks.attach(
        session,
        room=conn,
        pre_rtc_dir=tmp_path,
        audio_track_published=True,
        clock=CLOCK,
        hears_user=lambda: hears,
    )
    received: list[dict] = []

    async def listen() -> None:
        async for m in probe.messages():
            received.append(json.loads(m.payload))

    async def probe_ready() -> None:
        msg = make_message("probe_ready", trace_id=TRACE_ID, case_id="c1", t_ns=1)
        await probe.send_message(TOPIC_PROBE, encode(msg))
        await asyncio.sleep(0.05)

    async with asyncio.TaskGroup() as tg:
        lt = tg.create_task(listen())
        await probe_ready()
        assert [m["type"] for m in received] == []  # published, started, but deaf
        hears = True
        await probe_ready()  # the probe repeats every 250 ms: the next one is answered
        assert [m["type"] for m in received] == ["agent_ready"]
        await hooks.aclose()
        await probe.aclose()
        lt.cancel()


async def test_hooks_write_pre_rtc_for_an_interrupted_reply_and_send_reply_events(
    tmp_path, virtual_clock
):
    room, conn, _, out = await _output_with_room()
    probe = room.join("autortc-probe", "probe")
    session = FakeSession()
    session.output.audio = out
    hooks = AutortcHooks.attach(
        session, room=conn, pre_rtc_dir=tmp_path, audio_track_published=True, clock=CLOCK
    )
    tee = session.output.audio
    assert tee is not out  # the hooks wrapped the output
    received: list[dict] = []

    async def listen() -> None:
        async for m in probe.messages():
            received.append(json.loads(m.payload))

    async with asyncio.TaskGroup() as tg:
        lt = tg.create_task(listen())
        pump = tg.create_task(out.run())
        reply = ramp(48000)
        for f in frames_of(reply):
            await tee.capture_frame(f)
        tee.flush()
        await asyncio.sleep(0.25)
        tee.clear_buffer()  # barge-in
        await tee.wait_for_playout()
        pump.cancel()  # the job ends right after: hooks.aclose() must still save it
        await asyncio.sleep(0)
        await hooks.aclose()
        await asyncio.sleep(0.05)
        await probe.aclose()
        lt.cancel()
    types = [(m["type"], m.get("reply_seq"), m.get("interrupted")) for m in received]
    assert ("reply_start", 0, None) in types
    assert ("reply_end", 0, True) in types
    points = {m["point"] for m in received if m["type"] == "trace"}
    assert {"first_frame_published", "reply_done"} <= points
    pcm, sr = read_wav(tmp_path / TRACE_ID / "pre_rtc.wav")
    body = json.loads((tmp_path / TRACE_ID / "pre_rtc.json").read_text())
    assert sr == 48000
    assert body["replies"] == [
        {"reply_seq": 0, "start_sample": 0, "end_sample": len(pcm), "interrupted": True}
    ]
    assert np.array_equal(pcm, out.records[0].pcm)  # exactly what was handed over
    assert np.array_equal(pcm, reply[: len(pcm)])


async def test_hooks_save_a_reply_cut_off_by_the_job_ending_mid_capture(tmp_path, virtual_clock):
    """No flush, no clear_buffer: the job is cancelled mid-reply; aclose's finally saves it."""
    _, conn, _, out = await _output_with_room()
    session = FakeSession()
    session.output.audio = out
    hooks = AutortcHooks.attach(
        session, room=conn, pre_rtc_dir=tmp_path, audio_track_published=True, clock=CLOCK
    )
    tee = session.output.audio
    pump = asyncio.create_task(out.run())
    for f in frames_of(ramp(48000)):
        await tee.capture_frame(f)  # the producer is still going: no flush yet
    await asyncio.sleep(0.2)
    pump.cancel()
    with pytest.raises(asyncio.CancelledError):
        await pump
    await hooks.aclose()
    body = json.loads((tmp_path / TRACE_ID / "pre_rtc.json").read_text())
    pcm, _ = read_wav(tmp_path / TRACE_ID / "pre_rtc.wav")
    assert [(r["reply_seq"], r["interrupted"]) for r in body["replies"]] == [(0, True)]
    assert body["complete"] is True  # written by aclose: no reply will follow
    assert 0.1 * 48000 < len(pcm) < 0.5 * 48000
    assert np.array_equal(pcm, ramp(48000)[: len(pcm)])
    ends = [m for m in hooks.messages_sent if isinstance(m, ReplyEnd)]
    assert [m.interrupted for m in ends] == [True]


async def test_hooks_keep_what_the_agent_heard_and_write_it_before_the_complete_pre_rtc(
    tmp_path, virtual_clock
):
    _room, conn, _, out = await _output_with_room()
    session = FakeSession()
    session.output.audio = out
    hooks = AutortcHooks.attach(
        session, room=conn, pre_rtc_dir=tmp_path, audio_track_published=True, clock=CLOCK
    )
    heard = ramp(4800)
    for k, frame in enumerate(split_frames(heard)):
        hooks.heard_frame(frame, 1_000_000_000 + k * 10_000_000)
    hooks.write_pre_rtc()  # after a reply: not yet
    assert not (tmp_path / TRACE_ID / "agent_in.wav").exists()
    await hooks.aclose()
    pcm, sr = read_wav(tmp_path / TRACE_ID / "agent_in.wav")
    assert sr == 48000
    assert np.array_equal(pcm, heard)
    body = json.loads((tmp_path / TRACE_ID / "agent_in.json").read_text())
    assert body["frame_recv_t_ns"] == [1_000_000_000 + k * 10_000_000 for k in range(10)]
    assert json.loads((tmp_path / TRACE_ID / "pre_rtc.json").read_text())["complete"] is True
