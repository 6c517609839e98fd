"""Make any livekit-agents `AgentSession` speak the AutoRTC protocol, in three lines.

    hooks = AutortcHooks.attach(session, room=ctx.room, pre_rtc_dir="output/pre_rtc")
    try:
        await session.start(agent, room=ctx.room)
        ...
    finally:
        await hooks.aclose()

(or `async with AutortcHooks.attach(...) as hooks:`). `room` is a `livekit.rtc.Room`
or an AutoRTC `RoomConnection` (autortc.transport.base). The hooks then, per
shared/spec/protocol.md:

- answer every `probe_ready` for this room's trace_id with `agent_ready`
  (`in_reply_to` = the probe's msg_id), once the agent's audio track is published
  and the session has started; stale, duplicate and malformed messages are dropped
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
import json
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
from livekit import rtc
from livekit.agents import metrics as lk_metrics
from livekit.agents.voice import io

from autortc import protocol as P
from autortc.audio import SAMPLE_RATE_HZ, write_wav

logger = logging.getLogger(__name__)

USER_POINTS = frozenset({"user_speech_start", "user_eot", "stt_final"})
OUTBOX_MAX = 1024  # overflow policy: drop the message and log (never block an event callback)
DRAIN_TIMEOUT_S = 2.0


# -- messengers: the tiny room interface the hooks need -----------------------


class Messenger(Protocol):
    metadata: str

    async def send(self, topic: str, payload: bytes) -> None: ...

    async def receive(self, on_message: Callable[[str, bytes], None]) -> None:
        """Deliver topic messages until cancelled or the room closes."""
        ...

    def own_audio_published(self) -> bool: ...


class RoomConnectionMessenger:
    """Over an AutoRTC RoomConnection (the hooks become its one `messages()` consumer)."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn
        self.metadata = str(conn.room_metadata or "")

    async def send(self, topic: str, payload: bytes) -> None:
        await self._conn.send_message(topic, payload)

    async def receive(self, on_message: Callable[[str, bytes], None]) -> None:
        async for msg in self._conn.messages():
            on_message(msg.topic, msg.payload)

    def own_audio_published(self) -> bool:
        return False  # the seam cannot tell; pass audio_track_published=True


class RtcRoomMessenger:
    """Over a livekit.rtc.Room: reliable data packets on topics."""

    def __init__(self, room: rtc.Room) -> None:
        self._room = room
        self.metadata = str(room.metadata or "")

    async def send(self, topic: str, payload: bytes) -> None:
        await self._room.local_participant.publish_data(payload, reliable=True, topic=topic)

    async def receive(self, on_message: Callable[[str, bytes], None]) -> None:
        def on_data(packet: rtc.DataPacket) -> None:
            on_message(packet.topic or "", bytes(packet.data))

        self._room.on("data_received", on_data)
        try:
            await asyncio.Event().wait()  # until cancelled
        finally:
            self._room.off("data_received", on_data)

    def own_audio_published(self) -> bool:
        pubs = self._room.local_participant.track_publications.values()
        return any(p.kind == rtc.TrackKind.KIND_AUDIO for p in pubs)


def make_messenger(room: Any) -> Messenger:
    if isinstance(room, rtc.Room):
        return RtcRoomMessenger(room)
    if hasattr(room, "send_message") and hasattr(room, "messages"):
        return RoomConnectionMessenger(room)
    raise TypeError(f"expected a livekit.rtc.Room or an AutoRTC RoomConnection, got {room!r}")


# -- the pre_rtc tee ------------------------------------------------------------


@runtime_checkable
class ExactPlayoutSink(Protocol):
    """A sink that knows exactly what it handed to the transport.

    `current_playout` is set before it emits playback_started / playback_finished,
    with `pcm` (48 kHz mono int16), `first_frame_t_ns` and `done_t_ns`.
    """

    current_playout: Any


def wall_to_monotonic_ns(wall_s: float) -> int:
    return time.monotonic_ns() - int((time.time() - wall_s) * 1e9)


@dataclass
class _Reply:
    turn_id: int
    frames: list[np.ndarray] = field(default_factory=list)
    seq: int | None = None  # set at playback_started
    finished: bool = False


class _TeeOutput(io.AudioOutput):
    """Pass-through AudioOutput: records captured PCM and reports segment events."""

    def __init__(self, hooks: AutortcHooks, next_in_chain: io.AudioOutput) -> None:
        super().__init__(
            label="AutortcTee",
            capabilities=io.AudioOutputCapabilities(pause=next_in_chain.can_pause),
            next_in_chain=next_in_chain,
        )
        self._hooks = hooks
        self._replies: deque[_Reply] = deque()
        self._capturing: _Reply | None = None
        self._resampler: rtc.AudioResampler | None = None

    @property
    def sample_rate(self) -> int | None:
        return self.next_in_chain.sample_rate if self.next_in_chain else None

    def exact_sink(self) -> ExactPlayoutSink | None:
        node = self.next_in_chain
        while node is not None:
            if isinstance(node, ExactPlayoutSink):
                return node
            node = node.next_in_chain
        return None

    async def capture_frame(self, frame: rtc.AudioFrame) -> None:
        await super().capture_frame(frame)
        if self._capturing is None:
            self._capturing = _Reply(turn_id=self._hooks._reply_turn_id())
            self._replies.append(self._capturing)
        self._capturing.frames.extend(self._to_48k_mono(frame))
        assert self.next_in_chain is not None
        await self.next_in_chain.capture_frame(frame)

    def _to_48k_mono(self, frame: rtc.AudioFrame) -> list[np.ndarray]:
        if frame.num_channels != 1:
            data = np.frombuffer(frame.data, dtype=np.int16).reshape(-1, frame.num_channels)
            frame = rtc.AudioFrame(
                data=data.mean(axis=1).astype(np.int16).tobytes(),
                sample_rate=frame.sample_rate,
                num_channels=1,
                samples_per_channel=frame.samples_per_channel,
            )
        frames = [frame]
        if frame.sample_rate != SAMPLE_RATE_HZ:
            if self._resampler is None:
                self._resampler = rtc.AudioResampler(frame.sample_rate, SAMPLE_RATE_HZ)
            frames = self._resampler.push(frame)
        return [np.frombuffer(f.data, dtype=np.int16).copy() for f in frames]

    def flush(self) -> None:
        super().flush()
        self._capturing = None
        if self.next_in_chain is not None:
            self.next_in_chain.flush()

    def clear_buffer(self) -> None:
        if self.next_in_chain is not None:
            self.next_in_chain.clear_buffer()

    def on_playback_started(self, *, created_at: float) -> None:
        reply = next((r for r in self._replies if r.seq is None), None)
        if reply is not None:
            sink = self.exact_sink()
            rec = sink.current_playout if sink is not None else None
            t_ns = getattr(rec, "first_frame_t_ns", None) or wall_to_monotonic_ns(created_at)
            self._hooks._on_reply_started(reply, t_ns)
        super().on_playback_started(created_at=created_at)

    def on_playback_finished(
        self,
        *,
        playback_position: float,
        interrupted: bool,
        synchronized_transcript: str | None = None,
    ) -> None:
        pending_before = self._pending_playback_count
        super().on_playback_finished(
            playback_position=playback_position,
            interrupted=interrupted,
            synchronized_transcript=synchronized_transcript,
        )
        if self._pending_playback_count >= pending_before or not self._replies:
            return  # not one of ours (the base class logged it)
        reply = self._replies.popleft()
        if reply is self._capturing:
            self._capturing = None
        reply.finished = True
        if reply.seq is None:
            return  # nothing reached the transport: no reply
        sink = self.exact_sink()
        rec = sink.current_playout if sink is not None else None
        if rec is not None and getattr(rec, "first_frame_t_ns", None) is not None:
            pcm, done_t_ns = np.asarray(rec.pcm, dtype=np.int16), rec.done_t_ns
        else:
            captured = np.concatenate(reply.frames) if reply.frames else np.zeros(0, np.int16)
            pcm = captured[: round(playback_position * SAMPLE_RATE_HZ)]
            done_t_ns = None
        self._hooks._on_reply_finished(reply, pcm, interrupted, done_t_ns or time.monotonic_ns())

    def abandon_open_replies(self) -> None:
        """On close: a started reply that never finished is saved as interrupted."""
        sink = self.exact_sink()
        while self._replies:
            reply = self._replies.popleft()
            if reply.seq is None or reply.finished:
                continue
            rec = sink.current_playout if sink is not None else None
            if rec is not None and getattr(rec, "first_frame_t_ns", None) is not None:
                pcm = np.asarray(rec.pcm, dtype=np.int16)  # what the sink handed over so far
            else:
                pcm = np.concatenate(reply.frames) if reply.frames else np.zeros(0, np.int16)
            self._hooks._on_reply_finished(reply, pcm, True, time.monotonic_ns())


# -- the hooks --------------------------------------------------------------------


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
    ) -> None:
        self._session = session
        self._messenger = messenger
        self.meta = P.parse_room_meta(metadata if metadata is not None else messenger.metadata)
        self.active = self.meta is not None
        self._pre_rtc_dir = Path(pre_rtc_dir) if pre_rtc_dir and self.meta else None
        self._audio_published = audio_track_published
        self.filter = P.MessageFilter(trace_id=self.meta.trace_id if self.meta else "")
        self._outbox: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue(maxsize=OUTBOX_MAX)
        self._tasks: list[asyncio.Task[None]] = []
        self._tee: _TeeOutput | None = None
        self._closed = False
        # turn bookkeeping
        self._open_turn = 0
        self._open_turn_has_speech = False
        self._last_reply_turn = -1
        self._points_sent: set[tuple[int, str]] = set()
        self._pending_probe: str | None = None
        self.agent_ready_sent = 0
        self.messages_sent: list[dict[str, Any]] = []
        # pre_rtc
        self._pre_rtc_chunks: list[np.ndarray] = []
        self._pre_rtc_replies: list[dict[str, Any]] = []
        self._pre_rtc_samples = 0
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
    ) -> AutortcHooks:
        """Hook into `session` (started or not). Call from inside the event loop."""
        hooks = cls(
            session,
            make_messenger(room),
            pre_rtc_dir=pre_rtc_dir,
            metadata=metadata,
            audio_track_published=audio_track_published,
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
        out = self._session.output.audio
        if self._tee is None and out is not None:
            self._tee = _TeeOutput(self, out)
            self._session.output.audio = self._tee

    # -- public --------------------------------------------------------------

    def mark(self, point: str, *, t_ns: int | None = None, turn_id: int | None = None) -> None:
        """Report a trace point (agent's monotonic clock). First value per (turn, point) wins."""
        if point not in P.TRACE_POINTS:
            raise ValueError(f"unknown trace point {point!r}")
        if not self.active or self._closed:
            return
        if turn_id is None:
            turn_id = self._open_turn if point in USER_POINTS else self._reply_turn_id()
        if (turn_id, point) in self._points_sent:
            return
        self._points_sent.add((turn_id, point))
        t = time.monotonic_ns() if t_ns is None else int(t_ns)
        self._send(P.TOPIC_TRACE, "trace", t_ns=t, turn_id=turn_id, point=point)

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
            self.write_pre_rtc()
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
            t_ns=t_ns if t_ns is not None else time.monotonic_ns(),
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
                await self._messenger.send(topic, payload)
            except Exception:
                logger.exception("autortc message send failed", extra={"topic": topic})
            finally:
                self._outbox.task_done()

    # -- receiving: the barrier ----------------------------------------------

    def _on_message(self, topic: str, payload: bytes) -> None:
        msg = self.filter.accept(topic, payload)
        if msg is None or msg["type"] != "probe_ready":
            return
        self._pending_probe = msg["msg_id"]
        self._maybe_answer_probe()

    def ready(self) -> bool:
        published = self._audio_published or self._messenger.own_audio_published()
        return bool(published) and self._session.agent_state != "initializing"

    def _maybe_answer_probe(self) -> None:
        if self._pending_probe is None or not self.ready() or self._closed:
            return
        probe_msg_id, self._pending_probe = self._pending_probe, None
        self._send(P.TOPIC_AGENT, "agent_ready", in_reply_to=probe_msg_id)
        self.agent_ready_sent += 1

    # -- session events -> trace points ---------------------------------------

    def _reply_turn_id(self) -> int:
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

    def _on_reply_started(self, reply: _Reply, first_frame_t_ns: int) -> None:
        reply.seq = self._next_reply_seq
        self._next_reply_seq += 1
        self._send(P.TOPIC_REPLY, "reply_start", reply_seq=reply.seq, turn_id=reply.turn_id)
        self.mark("first_frame_published", t_ns=first_frame_t_ns, turn_id=reply.turn_id)

    def _on_reply_finished(
        self, reply: _Reply, pcm: np.ndarray, interrupted: bool, done_t_ns: int
    ) -> None:
        self.mark("reply_done", t_ns=done_t_ns, turn_id=reply.turn_id)
        self._send(
            P.TOPIC_REPLY,
            "reply_end",
            reply_seq=reply.seq,
            turn_id=reply.turn_id,
            interrupted=bool(interrupted),
        )
        start = self._pre_rtc_samples
        self._pre_rtc_chunks.append(pcm)
        self._pre_rtc_samples += len(pcm)
        self._pre_rtc_replies.append(
            {
                "reply_seq": reply.seq,
                "start_sample": start,
                "end_sample": self._pre_rtc_samples,
                "interrupted": bool(interrupted),
            }
        )
        self.write_pre_rtc()

    def write_pre_rtc(self) -> Path | None:
        """Write pre_rtc.wav + pre_rtc.json (replies so far). Returns the directory."""
        if self._pre_rtc_dir is None or self.meta is None:
            return None
        out_dir = self._pre_rtc_dir / self.meta.trace_id
        pcm = (
            np.concatenate(self._pre_rtc_chunks) if self._pre_rtc_chunks else np.zeros(0, np.int16)
        )
        write_wav(out_dir / "pre_rtc.wav", pcm, sample_rate_hz=SAMPLE_RATE_HZ)
        body = {"sample_rate_hz": SAMPLE_RATE_HZ, "replies": self._pre_rtc_replies}
        (out_dir / "pre_rtc.json").write_text(json.dumps(body, indent=1))
        return out_dir
