"""A scripted fake agent for the bots' tests: speaks the protocol over any transport.

It publishes its track at once (silence), answers each `probe_ready` with
`agent_ready` (unless told not to), and answers every `utterance_end` with a reply:
`reply_start`, a tone of `reply_ms`, `reply_end`, starting `answer_after_ms` after the
utterance_end message reached it. Times come from its `Clock`, waits from asyncio,
so on the memory transport in virtual time a conversation costs no real time.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

import numpy as np

from autortc.audio import SAMPLE_RATE_HZ, SAMPLES_PER_FRAME, silence_frame
from autortc.clock import Clock
from autortc.protocol import (
    TOPIC_AGENT,
    TOPIC_REPLY,
    MessageFilter,
    ProbeReady,
    UtteranceEnd,
    encode,
    make_message,
)
from autortc.transport.base import Transport


@dataclass
class ScriptedAgent:
    transport: Transport
    room: str
    trace_id: str
    clock: Clock
    identity: str = "agent-scripted"
    answer_after_ms: float = 300.0
    reply_ms: float = 500.0
    answers_barrier: bool = True
    reply_started_t_ns: list[int] = field(default_factory=list)
    barrier_answers: int = 0

    def _tone(self) -> list[np.ndarray]:
        n = int(self.reply_ms * SAMPLE_RATE_HZ / 1000) // SAMPLES_PER_FRAME * SAMPLES_PER_FRAME
        t = np.arange(n) / SAMPLE_RATE_HZ
        pcm = (0.3 * 32767 * np.sin(2 * np.pi * 440 * t)).astype(np.int16)
        return [pcm[i : i + SAMPLES_PER_FRAME] for i in range(0, n, SAMPLES_PER_FRAME)]

    async def run(self) -> None:
        conn = await self.transport.connect(self.room, self.identity, role="agent")
        pub = await conn.publish_audio(queue_size_ms=40)
        flt = MessageFilter(self.trace_id)
        replies: asyncio.Queue[int] = asyncio.Queue()
        seq = 0

        async def send(topic: str, type_: str, **fields: object) -> None:
            msg = make_message(
                type_, trace_id=self.trace_id, case_id="c", t_ns=self.clock.now_ns(), **fields
            )
            await conn.send_message(topic, encode(msg))

        async def listen() -> None:
            async for dm in conn.messages():
                msg = flt.accept(dm.topic, dm.payload)
                if isinstance(msg, ProbeReady) and self.answers_barrier:
                    self.barrier_answers += 1
                    await send(TOPIC_AGENT, "agent_ready", in_reply_to=msg.msg_id)
                elif isinstance(msg, UtteranceEnd):
                    replies.put_nowait(dm.recv_t_ns)

        async def speak() -> None:
            nonlocal seq
            silence = silence_frame()
            while True:
                try:
                    heard_ns = replies.get_nowait()
                except asyncio.QueueEmpty:
                    await pub.capture_frame(silence)
                    continue
                start_ns = heard_ns + int(self.answer_after_ms * 1e6)
                while self.clock.now_ns() < start_ns:
                    await pub.capture_frame(silence)
                await send(TOPIC_REPLY, "reply_start", reply_seq=seq)
                self.reply_started_t_ns.append(self.clock.now_ns())
                for frame in self._tone():
                    await pub.capture_frame(frame)
                await pub.wait_for_playout()
                await send(TOPIC_REPLY, "reply_end", reply_seq=seq)
                seq += 1

        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(listen(), name="scripted-agent.listen")
                tg.create_task(speak(), name="scripted-agent.speak")
        finally:
            with contextlib.suppress(Exception):
                await conn.aclose()
