"""The calibration agent (issue 13): the harness measures its own error.

For a room whose case sets `agent.calibration_delay_ms` (D), the reference agent runs
this job instead of its voice pipeline. It answers every user turn with a tone whose
first sample leaves D ms after the turn's EoT sample reached it, on its own clock,
written straight to the transport (no output lead, no TTS, no session):

- it renders what the user says (plain turns: `case_audio.render_turn`), finds it in
  what it hears and predicts the EoT sample's arrival from an earlier sample
  (calibration_core.EotLocator), so that even D = 0 can be met;
- it keeps its send queue full of silence (`QUEUE_MS`), so each frame's send time is
  known ahead from the publisher's regular 10 ms schedule, and starts the tone at the
  sample of the frame that leaves at EoT + D (`tone_offset`);
- once the tone's frame has left and the EoT frame is in, it reports what it did on
  the harness's clock, as trace points of the turn: `user_eot` = when the EoT sample
  arrived (the harness's own rule), `first_frame_published` = when the tone's first
  sample left on the publisher's 10 ms schedule (the media time its packet carries).
  Their difference is the D it achieved (`agent_eot_to_first_audio_ms`);
- it speaks the protocol itself: `agent_ready` (once published and hearing the user),
  `reply_start` / `reply_end` around each tone, pre_rtc (the tones) and agent_in.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from agent import calibration_core as core
from autortc import protocol as P
from autortc.audio import SAMPLES_PER_FRAME
from autortc.case_audio import render_turn
from autortc.case_schema import Turn
from autortc.clock import MONOTONIC
from autortc.host_clock import host_clock_id
from autortc.integrations.pre_rtc_record import PreRtcRecord
from autortc.transport.base import AudioPublisher, RoomConnection

logger = logging.getLogger(__name__)

QUEUE_MS = 30  # silence queued ahead: the tone's frame is placed this far in advance
TAIL_FRAMES = 300  # 3 s of what was heard: where the next EoT is looked for
FIND_EVERY_FRAMES = 5  # look for the EoT every 50 ms of audio heard


@dataclass
class _Tone:
    turn: int
    frame_index: int  # the capture index of its first frame
    offset: int  # its first sample in that frame
    reply_seq: int
    locator: core.EotLocator
    reported: bool = False


class CalibrationJob:
    def __init__(
        self,
        conn: RoomConnection,
        publisher: AudioPublisher,
        meta: P.RoomMeta,
        record: PreRtcRecord,
        delay_ms: int,
    ) -> None:
        self.conn, self.publisher, self.meta, self.record = conn, publisher, meta, record
        self.delay_ns = delay_ms * 1_000_000
        self.filter = P.MessageFilter(trace_id=meta.trace_id)
        self.heard: list[np.ndarray] = []
        self.recv_t_ns: list[int] = []
        self.turns = [render_turn(Turn(say=text)) for text in meta.utterance_texts]
        self.turn = 0
        self.locator = self._locator(0, 0)
        self.target_t_ns: int | None = None
        self.tones: list[_Tone] = []
        self.tone_left: np.ndarray | None = None  # the rest of the tone being sent
        self.pending_probe: str | None = None
        self.captured = 0
        self._sent_seen = 0  # frames whose send time was read (the schedule's base)
        self._base_ns: int | None = None
        self._outbox: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()

    def _locator(self, turn: int, start_index: int) -> core.EotLocator | None:
        if turn >= len(self.turns):
            return None
        render = self.turns[turn]
        return core.EotLocator(render.clean, render.eot_sample, start_index=start_index)

    # -- protocol ----------------------------------------------------------------

    def send(self, topic: str, type_: str, *, t_ns: int | None = None, **fields: Any) -> None:
        msg = P.make_message(
            type_,
            trace_id=self.meta.trace_id,
            case_id=self.meta.case_id,
            t_ns=MONOTONIC.now_ns() if t_ns is None else t_ns,
            **fields,
        )
        self._outbox.put_nowait((topic, P.encode(msg)))

    async def send_loop(self) -> None:
        while True:
            topic, payload = await self._outbox.get()
            try:
                await self.conn.send_message(topic, payload)
            except Exception:
                logger.exception("calibration message not sent", extra={"topic": topic})

    async def messages(self) -> None:
        async for m in self.conn.messages():
            msg = self.filter.accept(m.topic, m.payload, sender=m.sender)
            if isinstance(msg, P.ProbeReady):
                self.pending_probe = msg.msg_id
                self.maybe_ready()

    def maybe_ready(self) -> None:
        hears = P.USER_IDENTITY not in self.conn.remote_identities() or bool(self.heard)
        if self.pending_probe is None or not hears:
            return
        probe, self.pending_probe = self.pending_probe, None
        enc = self.publisher.encoding
        self.send(
            P.TOPIC_AGENT,
            "agent_ready",
            in_reply_to=probe,
            clock_id=host_clock_id(),
            audio=P.AudioPublishInfo(
                codec=enc.codec,
                max_bitrate_bps=enc.max_bitrate_bps,
                dtx=enc.dtx,
                red=enc.red,
                channels=enc.channels,
            ),
        )

    # -- hearing -------------------------------------------------------------------

    async def listen(self) -> None:
        async for frame in self.conn.subscribe_audio(P.USER_IDENTITY):
            self.heard.append(np.asarray(frame.pcm, dtype=np.int16))
            self.recv_t_ns.append(frame.recv_t_ns)
            self.record.heard(frame.pcm, frame.recv_t_ns)
            self.maybe_ready()
            looking = self.locator is not None and self.target_t_ns is None
            if looking and len(self.heard) % FIND_EVERY_FRAMES == 0:
                assert self.locator is not None
                predicted = self.locator.predicted_arrival_t_ns(*self._tail(), self.recv_t_ns)
                if predicted is not None:
                    self.target_t_ns = predicted + self.delay_ns
            self._report()

    def _tail(self) -> tuple[np.ndarray, int]:
        frames = self.heard[-TAIL_FRAMES:]
        start = (len(self.heard) - len(frames)) * SAMPLES_PER_FRAME
        return np.concatenate(frames).astype(np.float64) / 32768.0, start

    # -- speaking ------------------------------------------------------------------

    def _sent_at(self, index: int) -> int | None:
        """Frame `index`'s time on the publisher's 10 ms schedule (the media time its
        packet carries, which receivers play against), else its send stamp."""
        scheduled = getattr(self.publisher, "scheduled_t_ns", None)
        t = scheduled(index) if callable(scheduled) else None
        return t if isinstance(t, int) else self.publisher.sent_t_ns(index)

    def _send_t_ns(self, index: int) -> int | None:
        """When frame `index` will be handed over: the schedule's base (the earliest
        time - index x 10 ms seen) + 10 ms each."""
        while (t := self._sent_at(self._sent_seen)) is not None:
            base = t - self._sent_seen * core.FRAME_NS
            self._base_ns = base if self._base_ns is None else min(self._base_ns, base)
            self._sent_seen += 1
        return None if self._base_ns is None else self._base_ns + index * core.FRAME_NS

    def _next_frame(self) -> np.ndarray:
        pcm = np.zeros(SAMPLES_PER_FRAME, np.int16)
        if self.tone_left is not None:
            n = min(SAMPLES_PER_FRAME, len(self.tone_left))
            pcm[:n], self.tone_left = self.tone_left[:n], self.tone_left[n:]
            if not len(self.tone_left):
                self._tone_done()
            return pcm
        sent_at = self._send_t_ns(self.captured)
        if self.target_t_ns is None or sent_at is None or self.locator is None:
            return pcm
        offset = core.tone_offset(self.target_t_ns, sent_at)
        if offset is None and sent_at - core.FRAME_NS < self.target_t_ns:
            return pcm  # not yet
        offset = 0 if offset is None else offset  # late: as soon as it can
        tone = core.tone()
        seq = len(self.tones)
        self.tones.append(_Tone(self.turn, self.captured, offset, seq, self.locator))
        self.record.add_reply(seq, tone, interrupted=False)
        self.send(P.TOPIC_REPLY, "reply_start", reply_seq=seq, turn_id=self.turn)
        n = SAMPLES_PER_FRAME - offset
        pcm[offset:], self.tone_left = tone[:n], tone[n:]
        return pcm

    def _tone_done(self) -> None:
        tone = self.tones[-1]
        self.send(P.TOPIC_REPLY, "reply_end", reply_seq=tone.reply_seq, turn_id=tone.turn)
        self.record.write()
        self.tone_left = None
        eot_index = tone.locator.eot_index(*self._tail())
        self.turn += 1
        self.locator = self._locator(self.turn, (eot_index or 0) + 1)
        self.target_t_ns = None

    def _report(self) -> None:
        """The trace of every tone whose first frame has left and whose EoT is in."""
        for tone in self.tones:
            if tone.reported:
                continue
            sent = self._sent_at(tone.frame_index)
            eot = tone.locator.arrival_t_ns(*self._tail(), self.recv_t_ns)
            if sent is None or eot is None:
                continue
            tone.reported = True
            # the tone's first sample on the output's clock (the schedule its packets
            # are played against), by the harness's per-sample convention: the D the
            # agent achieved
            left = core.departure_t_ns(sent, tone.offset)
            self.send(P.TOPIC_TRACE, "trace", t_ns=eot, turn_id=tone.turn, point="user_eot")
            self.send(
                P.TOPIC_TRACE,
                "trace",
                t_ns=left,
                turn_id=tone.turn,
                point="first_frame_published",
            )
            logger.info(
                "calibration tone",
                extra={"turn": tone.turn, "achieved_delay_ms": (left - eot) / 1e6},
            )

    async def pump(self) -> None:
        while True:
            await self.publisher.capture_frame(self._next_frame())
            self.captured += 1
            self._report()


async def run_calibration_job(
    conn: RoomConnection,
    *,
    meta: P.RoomMeta,
    delay_ms: int,
    pre_rtc_dir: str,
    opus_max_bitrate_bps: int,
    max_job_s: float,
    until: Awaitable[None],
) -> None:
    """Serve one calibration room until `until` completes (the bots left), or max_job_s."""
    out_dir = Path(pre_rtc_dir) / meta.trace_id
    out_dir.mkdir(parents=True, exist_ok=True)
    record = PreRtcRecord(out_dir)
    publisher = await conn.publish_audio(
        queue_size_ms=QUEUE_MS, max_bitrate_bps=opus_max_bitrate_bps
    )
    job = CalibrationJob(conn, publisher, meta, record, delay_ms)
    tasks = [
        asyncio.create_task(coro, name=f"calibration-{name}-{conn.room_name}")
        for name, coro in (
            ("send", job.send_loop()),
            ("messages", job.messages()),
            ("listen", job.listen()),
            ("pump", job.pump()),
        )
    ]
    try:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max_job_s):
                await until
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        publisher.clear_queue()  # the connection, closed by the worker, stops it
        record.write(complete=True)
