"""The probe bot: records what the agent says, as a caller would hear it.

It waits for the agent (any identity but the two bots) and its audio track,
subscribes, and on the first frame sends `probe_ready` every 250 ms until the
agent answers `agent_ready`. It records the agent track (post_rtc_full.wav) and
the user track (post_rtc_user.wav) with every frame's receive time, and logs
every protocol message it receives (events.jsonl).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from pathlib import Path

import numpy as np

from autortc.audio import write_wav
from autortc.bots.common import (
    RoomGone,
    bot_main,
    pump_messages,
    stay_until,
    watch_room,
    write_json,
)
from autortc.bots.jobspec import BotJob
from autortc.bots.results import ProbeResult
from autortc.bots.rules import BarrierState, StopRule
from autortc.clock import MONOTONIC, Clock, MonotonicClock
from autortc.errors import TransportError
from autortc.host_clock import host_clock_id
from autortc.metrics.levels import AUDIBLE_RMS
from autortc.metrics.status import INTERRUPTED, ROOM_GONE
from autortc.protocol import (
    PROBE_IDENTITY,
    TOPIC_PROBE,
    USER_IDENTITY,
    AgentReady,
    Message,
    MessageFilter,
    ProbeReady,
    encode,
    is_agent_identity,
)
from autortc.transport.base import RoomConnection, Transport
from autortc.transport.factory import transport_from_url

PROBE_READY_PERIOD_S = 0.25


class Recorder:
    """Collects frames of one remote track with their receive times."""

    def __init__(self, on_audible: Callable[[int], None] | None = None) -> None:
        self.frames: list[np.ndarray] = []
        self.recv_t_ns: list[int] = []
        self.first_frame = asyncio.Event()
        self._on_audible = on_audible

    async def record(self, conn: RoomConnection, identity: str) -> None:
        async for fr in conn.subscribe_audio(identity):
            self.frames.append(fr.pcm)
            self.recv_t_ns.append(fr.recv_t_ns)
            self.first_frame.set()
            if self._on_audible is not None and _audible(fr.pcm):
                self._on_audible(fr.recv_t_ns)

    def pcm(self) -> np.ndarray:
        return np.concatenate(self.frames) if self.frames else np.zeros(0, np.int16)


def _audible(pcm: np.ndarray) -> bool:
    """The frame's RMS reaches the audible level of the measurement core (0.01 FS)."""
    x = np.asarray(pcm, dtype=np.float64) / 32768.0
    return bool(len(x)) and float(np.sqrt(np.mean(x * x))) >= AUDIBLE_RMS


async def _wait_agent(conn: RoomConnection, timeout_s: float) -> str | None:
    """The agent's identity once it is present with an audio track, else None."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout_s):
            while True:
                for ident in conn.remote_identities():
                    agent = is_agent_identity(ident) and conn.is_agent(ident) is not False
                    if agent and conn.has_audio_track(ident):
                        return ident
                await asyncio.sleep(0.02)
    return None


async def run_probe(
    job: BotJob, *, transport: Transport | None = None, clock: Clock = MONOTONIC
) -> int:
    """Record one attempt (see module doc). `transport` defaults to the job's URL."""
    out = Path(job.out_dir)
    out.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 (once, before any I/O starts)
    transport = transport or transport_from_url(job.transport_url)
    flt = MessageFilter(job.trace_id)
    barrier = BarrierState(blackbox=job.blackbox)
    stop = StopRule(
        n_turns=len(job.turns),
        record_pad_ms=job.record_pad_ms,
        tail_ms=job.stop_tail_ms,
        hard_deadline_ns=job.hard_deadline_ns(clock.now_ns()),
    )
    wake = asyncio.Event()
    agent_rec, user_rec = Recorder(stop.agent_audible), Recorder()
    # our clock's id: the agent's trace shares it when its agent_ready says the same
    clock_id = host_clock_id() if isinstance(clock, MonotonicClock) else None
    result = ProbeResult(trace_id=job.trace_id, clock_id=clock_id)
    probe_msg_ids: list[str] = []

    def on_msg(msg: Message, topic: str, recv_t_ns: int) -> None:
        if isinstance(msg, AgentReady) and msg.in_reply_to not in probe_msg_ids:
            result.warnings.append("agent_ready without a matching in_reply_to")
        barrier.observe(msg, recv_t_ns=recv_t_ns)
        stop.observe(msg, recv_t_ns=recv_t_ns)
        wake.set()

    result.started_t_ns = clock.now_ns()
    conn = await transport.connect(job.room, PROBE_IDENTITY, role="probe")
    t_join_ns = result.joined_t_ns = clock.now_ns()
    try:
        async with asyncio.TaskGroup() as tg:
            tasks = [
                tg.create_task(
                    pump_messages(conn, flt, on_msg, log_path=out / "events.jsonl"),
                    name="probe.pump",
                ),
                tg.create_task(watch_room(conn), name="probe.watch_room"),
            ]
            agent_id = await _wait_agent(conn, job.agent_join_timeout_s)
            if agent_id is None:
                result.status = "AGENT_NOT_JOINED"
            else:
                result.agent_identity = agent_id
                flt.agent_identity = agent_id  # its messages from now on: from it alone
                result.agent_seen_t_ns = clock.now_ns()
                tasks.append(
                    tg.create_task(agent_rec.record(conn, agent_id), name="probe.rec_agent")
                )
                tasks.append(
                    tg.create_task(user_rec.record(conn, USER_IDENTITY), name="probe.rec_user")
                )
                remaining_s = job.barrier_timeout_s - (clock.now_ns() - t_join_ns) / 1e9
                if not await _barrier(
                    conn, job, agent_rec, barrier, wake, probe_msg_ids, remaining_s, clock, flt
                ):
                    result.status = "BARRIER_TIMEOUT"
                else:
                    result.barrier_complete_t_ns = barrier.complete_t_ns
                    result.agent_track_codec = conn.audio_codec(agent_id)
                    await _wait_for_end(conn, stop, wake, job, clock)
            for t in tasks:
                t.cancel()
    except* RoomGone:
        result.status = ROOM_GONE  # ended within a poll of it, with what it recorded
    except* TransportError:
        if not conn.closed:
            raise
        result.status = ROOM_GONE  # a send raced the room's end
    finally:
        if (task := asyncio.current_task()) is not None and task.cancelling():
            result.status = INTERRUPTED  # stopped by SIGTERM: what it has, not a verdict
        result.recording_end_t_ns = clock.now_ns()
        result.agent_frames_recv_t_ns = agent_rec.recv_t_ns
        result.user_frames_recv_t_ns = user_rec.recv_t_ns
        result.message_counters = flt.counters()
        if result.agent_identity is not None:
            result.agent_track_network = conn.receive_stats(result.agent_identity)
        result.user_track_network = conn.receive_stats(USER_IDENTITY)
        result.final_reply_end_t_ns = stop.final_reply_end_t_ns
        write_wav(out / "post_rtc_full.wav", agent_rec.pcm())
        write_wav(out / "post_rtc_user.wav", user_rec.pcm())
        write_json(out / "probe_result.json", result)
        await conn.aclose()
        await transport.aclose()
    return 0 if result.status == "OK" else 3


async def _barrier(
    conn: RoomConnection,
    job: BotJob,
    rec: Recorder,
    barrier: BarrierState,
    wake: asyncio.Event,
    sent_ids: list[str],
    timeout_s: float,
    clock: Clock,
    flt: MessageFilter,
) -> bool:
    """First frame -> probe_ready every 250 ms until agent_ready answers one that the
    user bot could also see (it was in the room when it was sent). Data packets reach
    only participants present at send time, so a user bot that joins late would
    otherwise never see the barrier complete. Black-box: the first frame suffices.
    """
    seen_by_user: set[str] = set()
    try:
        async with asyncio.timeout(max(0.0, timeout_s)):
            await rec.first_frame.wait()
            while True:
                user_present = USER_IDENTITY in conn.remote_identities()
                msg = ProbeReady.new(
                    trace_id=job.trace_id, case_id=job.case_id, t_ns=clock.now_ns()
                )
                sent_ids.append(msg.msg_id)
                flt.note_sent(msg)  # a replay of it by anyone is a duplicate
                if user_present:
                    seen_by_user.add(msg.msg_id)
                await conn.send_message(TOPIC_PROBE, encode(msg))
                barrier.observe(msg, recv_t_ns=msg.t_ns)  # our own message is not echoed
                done = (barrier.blackbox and user_present) or (
                    barrier.agent_ready_in_reply_to & seen_by_user
                )
                if barrier.complete and done:
                    return True
                # wait out the period; a message wakes us early only to check for the
                # answer (an agent_ready that answers each probe_ready at once must not
                # turn this into a ping-pong while the user bot is still joining)
                next_send_ns = clock.now_ns() + round(PROBE_READY_PERIOD_S * 1e9)
                while (left_ns := next_send_ns - clock.now_ns()) > 0:
                    wake.clear()
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(left_ns / 1e9):
                            await wake.wait()
                    if barrier.agent_ready_in_reply_to & seen_by_user:
                        return True
    except TimeoutError:
        return False


async def _wait_for_end(
    conn: RoomConnection, stop: StopRule, wake: asyncio.Event, job: BotJob, clock: Clock
) -> None:
    """Record until the stop rule says so (its hard deadline is the bot's own budget),
    or the user bot has left the room."""

    async def user_gone() -> None:
        # presence is polled so the one participant_events() stream stays free
        while USER_IDENTITY in conn.remote_identities():  # noqa: ASYNC110
            await asyncio.sleep(0.1)
        await asyncio.sleep(job.stop_tail_ms / 1000)  # keep the agent's last words

    await stay_until(stop, wake, clock, user_gone(), bot="probe")


def main() -> None:
    bot_main("probe_bot", run_probe)


if __name__ == "__main__":
    main()
