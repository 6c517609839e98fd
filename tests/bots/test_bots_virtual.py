"""The user bot and the probe against a scripted agent, on the memory transport in
virtual time: the barrier, a reply, and the barrier's timeouts, in milliseconds."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import numpy as np
import pytest

from autortc.artifacts import load_attempt
from autortc.audio import SAMPLE_RATE_HZ, write_wav
from autortc.bots.jobspec import BotJob, TurnJob
from autortc.bots.probe_bot import run_probe
from autortc.bots.results import ProbeResult, UserResult
from autortc.bots.user_bot import run_user
from autortc.clock import LoopClock
from autortc.metrics import registry as M
from autortc.metrics.attempt import analyze_attempt
from autortc.transport.memory import MemoryHub, MemoryTransport

from .scripted_agent import ScriptedAgent

TRACE = "trace-virtual"
CLOCK = LoopClock()
EOT_SAMPLE = 48_000  # 1 s of "speech", then 200 ms of silence


def _job(tmp: Path, room: str, *, barrier_timeout_s: float = 15.0) -> BotJob:
    pcm = np.zeros(int(1.2 * SAMPLE_RATE_HZ), np.int16)
    t = np.arange(EOT_SAMPLE) / SAMPLE_RATE_HZ
    pcm[:EOT_SAMPLE] = (0.2 * 32767 * np.sin(2 * np.pi * 220 * t)).astype(np.int16)
    write_wav(tmp / "turn0.wav", pcm)
    return BotJob(
        transport_url="memory://",
        room=room,
        trace_id=TRACE,
        case_id="c",
        out_dir=str(tmp),
        turns=[TurnJob(0, str(tmp / "turn0.wav"), eot_sample=EOT_SAMPLE, speech_start_sample=0)],
        barrier_timeout_s=barrier_timeout_s,
        agent_join_timeout_s=barrier_timeout_s,
        record_pad_ms=5_000,
    )


async def _attempt(
    tmp: Path, agent: ScriptedAgent | None, job: BotJob, hub: MemoryHub, user_late_s: float = 0.0
) -> float:
    """Run both bots (and the agent); returns the virtual seconds it took."""
    t0 = CLOCK.now_ns()

    async def user() -> int:
        await asyncio.sleep(user_late_s)
        return await run_user(job, transport=MemoryTransport(hub), clock=CLOCK)

    async with asyncio.TaskGroup() as tg:
        agent_task = tg.create_task(agent.run()) if agent is not None else None
        bots = [
            tg.create_task(run_probe(job, transport=MemoryTransport(hub), clock=CLOCK)),
            tg.create_task(user()),
        ]
        await asyncio.gather(*bots)
        if agent_task is not None:
            agent_task.cancel()
    return (CLOCK.now_ns() - t0) / 1e9


def _results(tmp: Path) -> tuple[ProbeResult, UserResult]:
    probe = ProbeResult.model_validate_json((tmp / "probe_result.json").read_text())
    user = UserResult.model_validate_json((tmp / "user_result.json").read_text())
    return probe, user


async def test_barrier_then_a_reply_is_measured_at_the_known_delay(tmp_path, virtual_clock):
    hub = MemoryHub(clock=CLOCK)
    hub.open_room("r1")
    agent = ScriptedAgent(MemoryTransport(hub), "r1", TRACE, CLOCK, answer_after_ms=300)
    elapsed_s = await _attempt(tmp_path, agent, _job(tmp_path, "r1"), hub)
    probe, user = _results(tmp_path)
    assert (probe.status, user.status) == ("OK", "OK")
    assert probe.barrier_complete_t_ns is not None
    assert user.barrier_complete_t_ns is not None
    assert probe.final_reply_end_t_ns is not None
    assert elapsed_s < 5.0  # stopped at reply_end + tail, not at the 5 s pad
    row = analyze_attempt(
        load_attempt(tmp_path, case_id="c", priority="P0", attempt=1, trace_id=TRACE)
    )
    assert row.capture_status == "PRE_MISSING"  # the scripted agent writes no pre_rtc
    # utterance_end leaves when the turn's last frame is queued: 200 ms of trailing
    # silence after the EoT, minus up to 50 ms still in the user's send queue. The agent
    # starts 300 ms after it, behind its own 40 ms queue: 450..540 ms after the EoT.
    latency = row.get(M.EOT_TO_FIRST_AUDIO)
    assert latency is not None
    assert 450.0 <= latency <= 540.0
    assert virtual_clock.jumps > 100  # it really ran in virtual time


async def test_an_agent_that_never_answers_the_barrier_times_out_both_bots(tmp_path, virtual_clock):
    hub = MemoryHub(clock=CLOCK)
    hub.open_room("r2")
    agent = ScriptedAgent(MemoryTransport(hub), "r2", TRACE, CLOCK, answers_barrier=False)
    elapsed_s = await _attempt(tmp_path, agent, _job(tmp_path, "r2", barrier_timeout_s=15), hub)
    probe, user = _results(tmp_path)
    assert (probe.status, user.status) == ("BARRIER_TIMEOUT", "BARRIER_TIMEOUT")
    assert elapsed_s == pytest.approx(15.0, abs=0.5)


async def test_no_agent_is_agent_not_joined(tmp_path, virtual_clock):
    hub = MemoryHub(clock=CLOCK)
    hub.open_room("r3")
    elapsed_s = await _attempt(tmp_path, None, _job(tmp_path, "r3", barrier_timeout_s=10), hub)
    probe, user = _results(tmp_path)
    assert probe.status == "AGENT_NOT_JOINED"
    assert user.status == "BARRIER_TIMEOUT"
    assert elapsed_s == pytest.approx(10.0, abs=0.5)


async def test_the_barrier_does_not_ping_pong_while_the_user_bot_joins(tmp_path, virtual_clock):
    # an agent that answers each probe_ready at once must not make the probe resend at
    # wire speed: one probe_ready per 250 ms until the user bot is there (it was 1 per ms)
    hub = MemoryHub(clock=CLOCK)
    hub.open_room("r4")
    agent = ScriptedAgent(MemoryTransport(hub), "r4", TRACE, CLOCK)
    await _attempt(tmp_path, agent, _job(tmp_path, "r4"), hub, user_late_s=2.0)
    probe, user = _results(tmp_path)
    assert (probe.status, user.status) == ("OK", "OK")
    assert 4 <= agent.barrier_answers <= 2.0 / 0.25 + 2


async def test_a_room_deleted_mid_reply_ends_both_bots_within_a_poll_as_room_gone(
    tmp_path, virtual_clock
):
    hub = MemoryHub(clock=CLOCK)
    hub.open_room("r4")
    # a long reply: the room goes while the agent is still talking
    agent = ScriptedAgent(MemoryTransport(hub), "r4", TRACE, CLOCK, reply_ms=20_000)
    job = _job(tmp_path, "r4")
    deleted_at: list[int] = []

    async def agent_until_gone() -> None:
        with contextlib.suppress(Exception):  # the fake agent's own send fails: not ours
            await agent.run()

    async def delete_later() -> None:
        await asyncio.sleep(3.0)  # the barrier, 1.2 s of speech, then the reply
        deleted_at.append(CLOCK.now_ns())
        hub.delete_room("r4")

    t0 = CLOCK.now_ns()
    async with asyncio.TaskGroup() as tg:
        tg.create_task(agent_until_gone())
        tg.create_task(delete_later())
        bots = [
            tg.create_task(run_probe(job, transport=MemoryTransport(hub), clock=CLOCK)),
            tg.create_task(run_user(job, transport=MemoryTransport(hub), clock=CLOCK)),
        ]
        await asyncio.gather(*bots)
    probe, user = _results(tmp_path)
    assert (probe.status, user.status) == ("ROOM_GONE", "ROOM_GONE")
    assert [b.result() for b in bots] == [3, 3]  # an infrastructure end, not a crash
    # within a poll (0.1 s) of the deletion, not after the 5 s pad or the bots' budget
    assert (CLOCK.now_ns() - deleted_at[0]) / 1e9 < 0.5
    assert (CLOCK.now_ns() - t0) / 1e9 < 3.5
    assert probe.recording_end_t_ns is not None
    assert len(probe.agent_frames_recv_t_ns) > 100  # what it had recorded is kept
    assert (tmp_path / "post_rtc_full.wav").exists()
    assert (tmp_path / "input.wav").exists()
