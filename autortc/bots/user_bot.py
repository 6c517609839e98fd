"""The user bot: speaks the case's utterances into the room like a microphone.

It publishes a track at once (silence until it speaks), waits for the two-way
ACK barrier, then plays each turn in real time. For every frame it records when
`capture_frame` returned and how much audio was still queued, so the exact time
the EoT sample left the bot can be computed (rules.eot_left_t_ns).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from autortc.audio import (
    SAMPLE_RATE_HZ,
    SAMPLES_PER_FRAME,
    read_wav,
    silence_frame,
    split_frames,
    write_wav,
)
from autortc.bots.common import (
    RoomGone,
    bot_main,
    pump_messages,
    stay_until,
    watch_room,
    write_json,
)
from autortc.bots.jobspec import BotJob, TurnJob
from autortc.bots.results import TurnResult, UserResult
from autortc.bots.rules import BarrierState, StopRule, eot_left_t_ns
from autortc.clock import MONOTONIC, Clock
from autortc.errors import TransportError
from autortc.metrics.status import INTERRUPTED, ROOM_GONE
from autortc.protocol import (
    PROBE_IDENTITY,
    TOPIC_USER,
    USER_IDENTITY,
    Message,
    MessageFilter,
    ReplyEnd,
    ReplyStart,
    encode,
    make_message,
)
from autortc.transport.base import AudioPublisher, RoomConnection, Transport
from autortc.transport.factory import transport_from_url

Say = Callable[..., Awaitable[None]]
WaitFor = Callable[[Callable[[], bool], float], Awaitable[bool]]


@dataclass
class Feeder:
    """Pushes frames continuously: queued turn audio, else silence. Records every frame."""

    pub: AudioPublisher
    clock: Clock = MONOTONIC
    pending: list[tuple[int, int, np.ndarray]] = field(
        default_factory=list
    )  # (turn, frame_idx, pcm)
    sent_pcm: list[np.ndarray] = field(default_factory=list)
    log: list[tuple[int, int, int, float]] = field(
        default_factory=list
    )  # (turn, idx, t_ns, queued_s)
    turn_done: dict[int, asyncio.Event] = field(default_factory=dict)
    frame_log_by_turn: dict[int, list[tuple[int, int, float, int]]] = field(default_factory=dict)

    def enqueue_turn(self, turn_index: int, pcm: np.ndarray) -> asyncio.Event:
        frames = split_frames(pcm)
        self.pending.extend((turn_index, i, f) for i, f in enumerate(frames))
        ev = self.turn_done[turn_index] = asyncio.Event()
        return ev

    async def run(self) -> None:
        while True:
            if self.pending:
                turn, idx, pcm = self.pending.pop(0)
            else:
                turn, idx, pcm = -1, -1, silence_frame()
            await self.pub.capture_frame(pcm)
            t_ns = self.clock.now_ns()
            queued_s = self.pub.queued_duration_s
            global_start = len(self.sent_pcm) * SAMPLES_PER_FRAME
            self.sent_pcm.append(pcm)
            if turn >= 0:
                self.frame_log_by_turn.setdefault(turn, []).append(
                    (idx, t_ns, queued_s, global_start)
                )
                if not any(p[0] == turn for p in self.pending):
                    self.turn_done[turn].set()


def _turn_timing(
    turn: TurnJob,
    frames: list[tuple[int, int, float, int]],
    sent_t_ns: Callable[[int], int | None] = lambda _: None,
) -> TurnResult:
    """Where the turn sits in input.wav and when its speech start / EoT left the bot.

    A sample left when its frame was sent (`sent_t_ns`, by the frame's index among all
    the frames captured), spread over the 10 ms before that send, as the probe spreads
    a received frame. Where the transport cannot say when a frame left (LiveKit), it is
    estimated from the queue level after the capture (up to a frame early or late)."""
    by_idx = {idx: (t_ns, q, g) for idx, t_ns, q, g in frames}

    def left_t_ns(sample: int) -> int:
        exact = sent_left_t_ns(sample)
        return exact if exact is not None else estimated_left_t_ns(sample)

    def sent_left_t_ns(sample: int) -> int | None:
        idx = min(sample // SAMPLES_PER_FRAME, max(by_idx))
        j = sample - idx * SAMPLES_PER_FRAME
        sent = sent_t_ns(by_idx[idx][2] // SAMPLES_PER_FRAME)
        if sent is None or not 0 <= j < SAMPLES_PER_FRAME:
            return None
        return sent - (SAMPLES_PER_FRAME - 1 - j) * 1_000_000_000 // SAMPLE_RATE_HZ

    def estimated_left_t_ns(sample: int) -> int:
        idx = min(sample // SAMPLES_PER_FRAME, max(by_idx))
        t_ns, q, _ = by_idx[idx]
        return eot_left_t_ns(
            capture_return_t_ns=t_ns,
            queued_after_s=q,
            frame_end_sample=(idx + 1) * SAMPLES_PER_FRAME,
            eot_sample=sample,
            sample_rate_hz=SAMPLE_RATE_HZ,
        )

    first_global = by_idx[0][2]
    exact_eot = sent_left_t_ns(turn.eot_sample)
    return TurnResult(
        turn_index=turn.turn_index,
        is_barge_in=turn.barge_in_after_agent_ms is not None,
        input_start_sample=first_global,
        eot_sample_in_input=first_global + turn.eot_sample,
        speech_start_sample_in_input=first_global + turn.speech_start_sample,
        eot_left_t_ns=left_t_ns(turn.eot_sample),
        eot_left_source="estimated" if exact_eot is None else "sent",
        eot_left_estimate_t_ns=estimated_left_t_ns(turn.eot_sample),
        speech_start_left_t_ns=left_t_ns(turn.speech_start_sample),
        speech_segments_left_t_ns=[(left_t_ns(a), left_t_ns(b)) for a, b in turn.speech_segments],
    )


async def run_user(
    job: BotJob, *, transport: Transport | None = None, clock: Clock = MONOTONIC
) -> int:
    """Speak one attempt's turns (see module doc). `transport` defaults to the job's URL."""
    out = Path(job.out_dir)
    transport = transport or transport_from_url(job.transport_url)
    flt = MessageFilter(job.trace_id)
    barrier = BarrierState(blackbox=job.blackbox)
    stop = StopRule(
        n_turns=len(job.turns),
        record_pad_ms=job.record_pad_ms,
        tail_ms=job.stop_tail_ms,
        hard_deadline_ns=job.hard_deadline_ns(clock.now_ns()),
        reply_idle_ms=None,  # it cannot hear the agent: it follows the probe out instead
    )
    barrier_ev, wake = asyncio.Event(), asyncio.Event()
    replies: dict[int, dict[str, int]] = {}
    result = UserResult(trace_id=job.trace_id)

    def on_msg(msg: Message, topic: str, recv_t_ns: int) -> None:
        if barrier.observe(msg, recv_t_ns=recv_t_ns):
            barrier_ev.set()
        stop.observe(msg, recv_t_ns=recv_t_ns)
        if isinstance(msg, ReplyStart | ReplyEnd):
            replies.setdefault(msg.reply_seq, {})[msg.type] = recv_t_ns
        wake.set()

    async def say(type_: str, **fields: Any) -> None:
        m = make_message(
            type_, trace_id=job.trace_id, case_id=job.case_id, t_ns=clock.now_ns(), **fields
        )
        flt.note_sent(m)
        await conn.send_message(TOPIC_USER, encode(m))
        stop.observe(m, recv_t_ns=m.t_ns)  # our own messages are not echoed back

    async def wait_for(pred: Callable[[], bool], timeout_s: float) -> bool:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                while not pred():
                    wake.clear()
                    await wake.wait()
                return True
        return False

    conn: RoomConnection = await transport.connect(job.room, USER_IDENTITY, role="user")
    feeder: Feeder | None = None
    try:
        pub = await conn.publish_audio(queue_size_ms=job.queue_size_ms)
        feeder = Feeder(pub, clock)
        async with asyncio.TaskGroup() as tg:
            pump = tg.create_task(pump_messages(conn, flt, on_msg), name="user.pump")
            feed = tg.create_task(feeder.run(), name="user.feeder")
            watch = tg.create_task(watch_room(conn), name="user.watch_room")
            await say("user_ready")
            try:
                async with asyncio.timeout(job.barrier_timeout_s):
                    await barrier_ev.wait()
            except TimeoutError:
                result.status = "BARRIER_TIMEOUT"
            if result.status == "OK":
                result.barrier_complete_t_ns = barrier.complete_t_ns
                await _play_turns(job, feeder, replies, say, wait_for, result)
                await _stay_until_done(conn, stop, wake, clock)
            pump.cancel()
            feed.cancel()
            watch.cancel()
    except* RoomGone:
        result.status = ROOM_GONE
    except* TransportError:
        if not conn.closed:
            raise
        result.status = ROOM_GONE  # a send or a frame raced the room's end
    finally:
        if (task := asyncio.current_task()) is not None and task.cancelling():
            result.status = INTERRUPTED  # stopped by SIGTERM: what it has, not a verdict
        result.message_counters = flt.counters()
        if feeder is not None:
            pcm = np.concatenate(feeder.sent_pcm) if feeder.sent_pcm else np.zeros(0, np.int16)
            write_wav(out / "input.wav", pcm)
            result.turns = [
                _turn_timing(t, feeder.frame_log_by_turn[t.turn_index], _left_at(feeder.pub))
                for t in job.turns
                if t.turn_index in feeder.frame_log_by_turn
            ]
        write_json(out / "user_result.json", result)
        await conn.aclose()
        await transport.aclose()
    return 0 if result.status == "OK" else 3


def _left_at(pub: AudioPublisher) -> Callable[[int], int | None]:
    """When a frame left: its time on the publisher's 10 ms schedule where it keeps one
    (the embedded transport: the media time its packet carries, which receivers play
    against, so the bot's own wake-up jitter is not in the measurement), else when it
    was sent."""
    scheduled = getattr(pub, "scheduled_t_ns", None)
    if not callable(scheduled):
        return pub.sent_t_ns

    def left(index: int) -> int | None:
        t = scheduled(index)
        return t if isinstance(t, int) else pub.sent_t_ns(index)

    return left


async def _play_turns(
    job: BotJob,
    feeder: Feeder,
    replies: dict[int, dict[str, int]],
    say: Say,
    wait_for: WaitFor,
    result: UserResult,
) -> None:
    def seen(seq: int, type_: str) -> Callable[[], bool]:
        return lambda: type_ in replies.get(seq, {})

    for k, turn in enumerate(job.turns):
        if turn.barge_in_after_agent_ms is not None:
            # barge in once the agent has been speaking for the given time
            if not await wait_for(seen(k - 1, "reply_start"), job.reply_wait_timeout_s):
                result.warnings.append(f"turn {k}: no reply_start to barge into")
            await asyncio.sleep(turn.barge_in_after_agent_ms / 1000)
        elif k > 0:
            if not await wait_for(seen(k - 1, "reply_end"), job.reply_wait_timeout_s):
                result.warnings.append(f"turn {k}: no reply_end before speaking")
            await asyncio.sleep(job.gap_between_turns_ms / 1000)
        pcm, _sr = read_wav(turn.audio_path)
        await say("utterance_start", turn_index=k)
        done = feeder.enqueue_turn(turn.turn_index, pcm)
        await done.wait()
        timing = _turn_timing(turn, feeder.frame_log_by_turn[turn.turn_index])
        await say("utterance_end", turn_index=k, eot_t_ns=timing.eot_left_t_ns)


async def _stay_until_done(
    conn: RoomConnection, stop: StopRule, wake: asyncio.Event, clock: Clock
) -> None:
    """Stay until the stop rule's deadline, or until the probe has left (it hears the
    agent and gives up on a reply that never ends; the user bot cannot tell)."""

    async def probe_gone() -> None:
        while PROBE_IDENTITY in conn.remote_identities():  # noqa: ASYNC110 - presence poll
            await asyncio.sleep(0.1)

    await stay_until(stop, wake, clock, probe_gone(), bot="user")


def main() -> None:
    bot_main("user_bot", run_user)


if __name__ == "__main__":
    main()
