"""Make any livekit-agents `AgentSession` speak the AutoRTC protocol, in three lines.

    await session.start(agent, room=ctx.room)
    hooks = AutortcHooks.attach(session, room=ctx.room, pre_rtc_dir="output/pre_rtc")
    try:
        ...  # the job's work: e.g. wait until the room empties
    finally:
        await hooks.aclose()

(or `async with AutortcHooks.attach(...) as hooks:`). Attaching before `start()`
works too: the tee then goes in at the session's first state change, once RoomIO
has made `session.output.audio`; attaching after is simpler to reason about. `room` is a `livekit.rtc.Room`
or an AutoRTC `RoomConnection` (autortc.transport.base). The hooks then, per
docs/spec/protocol.md:

- answer every `probe_ready` for this room's trace_id with `agent_ready`
  (`in_reply_to` = the probe's msg_id), once the agent's audio track is published
  and the session has started (and, given `hears_user`, once the user's audio
  reaches the agent); stale, duplicate and malformed messages are dropped
  and counted (autortc.protocol.MessageFilter);
- send `reply_start` / `reply_end` (`reply_seq` 0, 1, 2 ..., `interrupted`) around
  every playback segment of `session.output.audio`;
- send the 9 trace points per turn on `autortc.trace`, derived from session events
  (user_state_changed, user_input_transcribed, speech_created, metrics_collected,
  playback events). Engines that know better call `hooks.mark(point, t_ns=...)`
  first: the first value for a (turn, point) wins;
- tee `session.output.audio` (a pass-through `io.AudioOutput`) and write
  `<pre_rtc_dir>/<trace_id>/pre_rtc.wav` + `pre_rtc.json` after every reply and in
  `aclose()`'s `finally`, so an interrupted or cancelled reply is still saved.
  A sink that records exactly what it handed to the transport (`ExactPlayoutSink`,
  e.g. the reference agent's output) is trusted over the tee's own copy.

Rooms without AutoRTC metadata leave the hooks inert: the agent runs unchanged.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from livekit.agents import metrics as lk_metrics

from autortc import protocol as P
from autortc.clock import MONOTONIC, Clock, MonotonicClock
from autortc.errors import UsageError
from autortc.host_clock import host_clock_id
from autortc.integrations.messengers import Messenger, make_messenger
from autortc.integrations.pre_rtc_record import PreRtcRecord
from autortc.integrations.tee_output import TeeOutput, TeeReply, wall_to_monotonic_ns
from autortc.transport.base import AudioEncoding

__all__ = ["AutortcHooks"]

logger = logging.getLogger(__name__)

USER_POINTS = frozenset({"user_speech_start", "user_eot", "stt_final"})
OUTBOX_MAX = 1024  # overflow policy: drop the message and log (never block an event callback)
DRAIN_TIMEOUT_S = 2.0


class AutortcHooks:
    """AutoRTC protocol hooks for one AgentSession in one room (see module doc)."""

    def __init__(
        self,
        session: Any,
        messenger: Messenger,
        *,
        pre_rtc_dir: str | Path | None,
        metadata: str | None = None,
        audio_track_published: bool | None = None,
        hears_user: Callable[[], bool] | None = None,
        clock: Clock = MONOTONIC,
        audio_encoding: AudioEncoding | None = None,
    ) -> None:
        self._session = session
        self._audio_encoding = audio_encoding
        self._clock = clock
        self._messenger = messenger
        self.meta = P.parse_room_meta(metadata if metadata is not None else messenger.metadata)
        self.active = self.meta is not None
        self._record = PreRtcRecord(
            Path(pre_rtc_dir) / self.meta.trace_id if pre_rtc_dir and self.meta else None
        )
        self._audio_published = audio_track_published
        self._hears_user = hears_user
        self.filter = P.MessageFilter(trace_id=self.meta.trace_id if self.meta else "")
        self._outbox: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue(maxsize=OUTBOX_MAX)
        self._tasks: list[asyncio.Task[None]] = []
        self._tee: TeeOutput | None = None
        self._closed = False
        # turn bookkeeping
        self._open_turn = 0
        self._open_turn_has_speech = False
        self._last_reply_turn = -1
        self._points_sent: set[tuple[int, str]] = set()
        self._pending_probe: str | None = None
        self.agent_ready_sent = 0
        self.messages_sent: list[P.Message] = []
        self._next_reply_seq = 0

    @classmethod
    def attach(
        cls,
        session: Any,
        *,
        room: Any,
        pre_rtc_dir: str | Path | None = "output/pre_rtc",
        metadata: str | None = None,
        audio_track_published: bool | None = None,
        hears_user: Callable[[], bool] | None = None,
        clock: Clock = MONOTONIC,
        wrap_messenger: Callable[[Messenger], Messenger] | None = None,
        audio_encoding: AudioEncoding | None = None,
    ) -> AutortcHooks:
        """Hook into `session` (started or not). Call from inside the event loop.

        `wrap_messenger` may wrap the room's messenger (the reference agent's message
        defects do, for the self-test)."""
        messenger = make_messenger(room)
        hooks = cls(
            session,
            wrap_messenger(messenger) if wrap_messenger is not None else messenger,
            pre_rtc_dir=pre_rtc_dir,
            metadata=metadata,
            audio_track_published=audio_track_published,
            hears_user=hears_user,
            clock=clock,
            audio_encoding=audio_encoding,
        )
        if hooks.active:
            hooks._start()
        else:
            logger.info("room has no AutoRTC metadata: hooks stay inert")
        return hooks

    async def __aenter__(self) -> AutortcHooks:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def _start(self) -> None:
        s = self._session
        s.on("user_state_changed", self._on_user_state)
        s.on("user_input_transcribed", self._on_transcribed)
        s.on("speech_created", self._on_speech_created)
        s.on("metrics_collected", self._on_metrics)
        s.on("agent_state_changed", self._on_agent_state)
        self._install_tee()
        trace = self.meta.trace_id if self.meta else ""
        self._tasks = [
            asyncio.create_task(self._send_loop(), name=f"autortc-hooks-send-{trace}"),
            asyncio.create_task(
                self._messenger.receive(self._on_message), name=f"autortc-hooks-recv-{trace}"
            ),
        ]

    def _install_tee(self) -> None:
        """Put the tee in front of `session.output.audio` once that exists (RoomIO makes
        it in `start()`). Never while the agent speaks: swapping the output detaches
        and re-attaches the chain (RoomIO's transcript sync), which would cut that reply."""
        out = self._session.output.audio
        if self._session.agent_state == "speaking":
            return  # the next agent_state_changed installs it
        if self._tee is None and out is not None:
            self._tee = TeeOutput(self, out)
            self._session.output.audio = self._tee

    # -- public --------------------------------------------------------------

    def mark(self, point: str, *, t_ns: int | None = None, turn_id: int | None = None) -> None:
        """Report a trace point (agent's monotonic clock). First value per (turn, point) wins."""
        if point not in P.ALL_TRACE_POINTS:
            raise UsageError(f"unknown trace point {point!r}")
        if not self.active or self._closed:
            return
        if turn_id is None:
            turn_id = self._open_turn if point in USER_POINTS else self.reply_turn_id()
        if (turn_id, point) in self._points_sent:
            return
        self._points_sent.add((turn_id, point))
        t = self._clock.now_ns() if t_ns is None else int(t_ns)
        self._send(P.TOPIC_TRACE, "trace", t_ns=t, turn_id=turn_id, point=point)
        self._record.traced(turn_id, point, t)

    def trace_mark(self, point: str, t_ns: int) -> None:
        """`mark` as a plain `(point, t_ns)` callback, for engines."""
        self.mark(point, t_ns=t_ns)

    async def aclose(self) -> None:
        """Flush pending messages, stop, and write pre_rtc (in `finally`). Idempotent."""
        if self._closed:
            return
        try:
            if self._tee is not None:
                self._tee.abandon_open_replies()
            if self._tasks and not self._tasks[0].done():
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(DRAIN_TIMEOUT_S):
                        await self._outbox.join()  # every queued message handed over
        finally:
            self._closed = True
            for task in self._tasks:
                task.cancel()
            for task in self._tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            self.write_pre_rtc(complete=True)
            if self.active:
                logger.info("autortc hooks closed", extra={"filter": self.filter.counters()})

    # -- sending -------------------------------------------------------------

    def _send(self, topic: str, type_: str, *, t_ns: int | None = None, **fields: Any) -> None:
        """Queue a message; a trace message's `t_ns` is the time of its point."""
        assert self.meta is not None
        msg = P.make_message(
            type_,
            trace_id=self.meta.trace_id,
            case_id=self.meta.case_id,
            t_ns=t_ns if t_ns is not None else self._clock.now_ns(),
            **fields,
        )
        self.messages_sent.append(msg)
        try:
            self._outbox.put_nowait((topic, P.encode(msg)))
        except asyncio.QueueFull:
            logger.warning("autortc outbox full: message dropped", extra={"type": type_})

    async def _send_loop(self) -> None:
        while True:
            topic, payload = await self._outbox.get()
            try:
                if not self._messenger.connected():
                    logger.debug("room gone: autortc message not sent", extra={"topic": topic})
                    continue
                await self._messenger.send(topic, payload)
            except Exception:
                logger.exception("autortc message send failed", extra={"topic": topic})
            finally:
                self._outbox.task_done()

    # -- receiving: the barrier ----------------------------------------------

    def _on_message(self, topic: str, payload: bytes, sender: str | None = None) -> None:
        msg = self.filter.accept(topic, payload, sender=sender)
        if not isinstance(msg, P.ProbeReady):
            return
        self._pending_probe = msg.msg_id
        self._maybe_answer_probe()

    def ready(self) -> bool:
        """agent_ready may be sent: our track is published, the session has started and,
        if the agent can tell (`hears_user`), the user's audio is reaching it. Audio
        sent before the agent's subscription is live is lost, so the user bot must
        not start speaking before that."""
        published = self._audio_published or self._messenger.own_audio_published()
        hears = self._hears_user is None or self._hears_user()
        return bool(published) and hears and self._session.agent_state != "initializing"

    def _maybe_answer_probe(self) -> None:
        if self._pending_probe is None or not self.ready() or self._closed:
            return
        probe_msg_id, self._pending_probe = self._pending_probe, None
        # the trace times are time.monotonic_ns() only with the real clock: say which
        # clock that is, so the harness can tell whether it shares it (hop budget)
        clock_id = host_clock_id() if isinstance(self._clock, MonotonicClock) else None
        enc = self._audio_encoding
        audio = None if enc is None else P.AudioPublishInfo(**dataclasses.asdict(enc))
        self._send(
            P.TOPIC_AGENT, "agent_ready", in_reply_to=probe_msg_id, clock_id=clock_id, audio=audio
        )
        self.agent_ready_sent += 1

    # -- session events -> trace points ---------------------------------------

    def reply_turn_id(self) -> int:
        return self._last_reply_turn if self._last_reply_turn >= 0 else self._open_turn

    def _on_agent_state(self, ev: Any) -> None:
        self._install_tee()  # a RoomIO output only exists once start() has run
        self._maybe_answer_probe()

    def _on_user_state(self, ev: Any) -> None:
        if ev.new_state == "speaking":
            self._open_turn_has_speech = True
            self.mark("user_speech_start", t_ns=wall_to_monotonic_ns(ev.created_at))

    def _on_transcribed(self, ev: Any) -> None:
        if ev.is_final and ev.transcript.strip():
            self._open_turn_has_speech = True
            self.mark("stt_final", t_ns=wall_to_monotonic_ns(ev.created_at))

    def _on_speech_created(self, ev: Any) -> None:
        if not self._open_turn_has_speech:
            return  # say() or a reply without a user turn: no new turn
        self.mark("user_eot", t_ns=wall_to_monotonic_ns(ev.created_at))
        self._last_reply_turn = self._open_turn
        self._open_turn += 1
        self._open_turn_has_speech = False

    def _on_metrics(self, ev: Any) -> None:
        m = ev.metrics
        if isinstance(m, lk_metrics.LLMMetrics):
            start_ns = wall_to_monotonic_ns(m.timestamp - m.duration)
            self.mark("llm_request", t_ns=start_ns)
            if m.ttft >= 0:
                self.mark("llm_first_token", t_ns=start_ns + int(m.ttft * 1e9))
        elif isinstance(m, lk_metrics.TTSMetrics):
            start_ns = wall_to_monotonic_ns(m.timestamp - m.duration)
            self.mark("tts_request", t_ns=start_ns)
            if m.ttfb >= 0:
                self.mark("tts_first_audio", t_ns=start_ns + int(m.ttfb * 1e9))

    # -- replies (called by the tee) --------------------------------------------

    def on_reply_started(self, reply: TeeReply, first_frame_t_ns: int) -> None:
        reply.seq = self._next_reply_seq
        self._next_reply_seq += 1
        self._send(P.TOPIC_REPLY, "reply_start", reply_seq=reply.seq, turn_id=reply.turn_id)
        if reply.captured_t_ns is not None:
            self.mark("output_first_frame", t_ns=reply.captured_t_ns, turn_id=reply.turn_id)
        self.mark("first_frame_published", t_ns=first_frame_t_ns, turn_id=reply.turn_id)

    def on_reply_finished(
        self, reply: TeeReply, pcm: np.ndarray, interrupted: bool, done_t_ns: int
    ) -> None:
        self.mark("reply_done", t_ns=done_t_ns, turn_id=reply.turn_id)
        self._send(
            P.TOPIC_REPLY,
            "reply_end",
            reply_seq=reply.seq,
            turn_id=reply.turn_id,
            interrupted=bool(interrupted),
        )
        assert reply.seq is not None  # set when its playback started
        self._record.add_reply(reply.seq, pcm, interrupted=bool(interrupted))
        self.write_pre_rtc()

    def heard_frame(self, pcm: np.ndarray, recv_t_ns: int) -> None:
        """Record one 10 ms frame of the user track as the agent received it (its
        monotonic receive time): the harness finds the EoT sample in it."""
        if self.active:
            self._record.heard(pcm, recv_t_ns)

    def write_pre_rtc(self, *, complete: bool = False) -> Path | None:
        """Write pre_rtc (and, once `complete`, agent_in): see pre_rtc_record.py."""
        return self._record.write(complete=complete)
