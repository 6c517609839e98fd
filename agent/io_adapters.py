"""livekit-agents audio I/O over the AutoRTC transport seam (`RoomConnection`).

`TransportAudioInput` turns `conn.subscribe_audio(identity)` into `rtc.AudioFrame`s
(48 kHz mono, 10 ms). `TransportAudioOutput` is the agent's one published track:
a pump task hands the `AudioPublisher` exactly one 10 ms frame per tick, reply
audio when a reply is playing and SILENCE otherwise (a track with no frames can
never be subscribed; docs/spec/protocol.md, Barrier).

The output honours the livekit-agents `io.AudioOutput` contract: a segment opens
with the first `capture_frame`, is closed by `flush()`, and ends with exactly one
`playback_finished` (interrupted when `clear_buffer()` cut it short, which stops
the reply within one frame and clears the publisher's queue). `playback_started`
fires when the first reply frame is handed to the transport.

Per reply it keeps a `PlayoutRecord`: exactly the PCM handed to the publisher
(re-framed, zero-padded, underrun silence included), the time of the first reply
frame handed over (`first_frame_published`) and of the last (`reply_done`).
autortc.integrations.livekit_agents reads it (`ExactPlayoutSink`) for pre_rtc.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import numpy as np
from livekit import rtc
from livekit.agents.voice import io

from agent.noise_gate import NoiseGate
from agent.output_faults import AfterTee
from autortc.audio import SAMPLE_RATE_HZ, SAMPLES_PER_FRAME
from autortc.clock import MONOTONIC, Clock
from autortc.errors import TransportError, UsageError
from autortc.transport.base import AudioPublisher, ReceivedFrame, RoomConnection

logger = logging.getLogger(__name__)

DEFAULT_PUMP_LEAD_MS = 30


class TransportAudioInput(io.AudioInput):
    """The user's track as livekit-agents audio input. Ends when the user leaves."""

    def __init__(
        self,
        conn: RoomConnection,
        identity: str,
        *,
        label: str = "AutortcInput",
        noise_gate: NoiseGate | None = None,
    ) -> None:
        super().__init__(label=label)
        self._frames: AsyncIterator[ReceivedFrame] = conn.subscribe_audio(identity)
        self._gate = noise_gate
        self.frames_received = 0
        self.last_rms = 0.0  # of the latest frame as received, full scale 1.0
        # each frame as received, with its receive time (the hooks' agent_in record)
        self.on_frame: Callable[[np.ndarray, int], None] | None = None
        # each frame as the agent's VAD gets it (after the noise gate), with that time
        self.on_gated_frame: Callable[[np.ndarray, int], None] | None = None

    async def __anext__(self) -> rtc.AudioFrame:
        received = await self._frames.__anext__()  # StopAsyncIteration ends the input
        self.frames_received += 1
        pcm = np.asarray(received.pcm, dtype=np.int16)
        if self.on_frame is not None:
            self.on_frame(pcm, received.recv_t_ns)
        self.last_rms = float(np.sqrt(np.mean((pcm / 32768.0) ** 2))) if len(pcm) else 0.0
        if self._gate is not None:
            pcm = self._gate.process(pcm)
        if self.on_gated_frame is not None:
            self.on_gated_frame(pcm, received.recv_t_ns)
        return rtc.AudioFrame(
            data=pcm.tobytes(),
            sample_rate=SAMPLE_RATE_HZ,
            num_channels=1,
            samples_per_channel=len(pcm),
        )

    async def aclose(self) -> None:
        aclose = getattr(self._frames, "aclose", None)
        if aclose is not None:
            await aclose()


@dataclass
class PlayoutRecord:
    """One reply as handed to the transport."""

    frames: list[np.ndarray] = field(default_factory=list)
    first_frame_t_ns: int | None = None
    done_t_ns: int | None = None
    interrupted: bool = False

    @property
    def pcm(self) -> np.ndarray:
        if not self.frames:
            return np.zeros(0, dtype=np.int16)
        return np.concatenate(self.frames)


@dataclass
class _Segment:
    """A playback segment: captured audio waiting for the pump, and its record."""

    pending: deque[np.ndarray] = field(default_factory=deque)
    pending_samples: int = 0
    flushed: bool = False
    interrupted: bool = False
    stalled: bool = False  # stop_mid_reply: the audio stopped, the segment never ends
    hold_frames: int | None = None  # delay_ms: silent frames still to play before the reply
    record: PlayoutRecord = field(default_factory=PlayoutRecord)

    def take_frame(self, n_samples: int = SAMPLES_PER_FRAME) -> np.ndarray | None:
        """The next `n_samples` (480: one frame), zero-padded at the end of a flushed
        segment; None when they are not (yet) available."""
        if self.pending_samples < n_samples and not (self.flushed and self.pending_samples):
            return None
        out = np.zeros(n_samples, dtype=np.int16)
        filled = 0
        while filled < n_samples and self.pending:
            head = self.pending[0]
            n = min(n_samples - filled, len(head))
            out[filled : filled + n] = head[:n]
            filled += n
            if n == len(head):
                self.pending.popleft()
            else:
                self.pending[0] = head[n:]
        self.pending_samples -= filled
        return out


class TransportAudioOutput(io.AudioOutput):
    """The agent's published track as livekit-agents audio output (see module doc).

    `run()` is the pump; the job runs it as a named task and cancels it to stop.
    `lead_ms` is how much audio the pump keeps queued in the publisher: enough to
    ride out event-loop jitter, small enough not to delay a reply behind silence.
    """

    def __init__(
        self,
        publisher: AudioPublisher,
        *,
        lead_ms: int = DEFAULT_PUMP_LEAD_MS,
        label: str = "AutortcOutput",
        clock: Clock = MONOTONIC,
        after_tee: AfterTee | None = None,
    ) -> None:
        super().__init__(
            label=label,
            capabilities=io.AudioOutputCapabilities(pause=False),
            sample_rate=SAMPLE_RATE_HZ,
        )
        self._publisher = publisher
        self._clock = clock
        self._after_tee = after_tee or AfterTee()
        self._lead_s = lead_ms / 1000.0
        self._segments: deque[_Segment] = deque()
        self._capturing: _Segment | None = None
        self._silence = np.zeros(SAMPLES_PER_FRAME, dtype=np.int16)
        self.records: list[PlayoutRecord] = []
        self.current_playout: PlayoutRecord | None = None
        self.frames_published = 0
        self.silence_frames_published = 0
        self._after_next: list[Callable[[], None]] = []

    # -- livekit-agents AudioOutput contract ---------------------------------

    async def capture_frame(self, frame: rtc.AudioFrame) -> None:
        await super().capture_frame(frame)
        if frame.sample_rate != SAMPLE_RATE_HZ or frame.num_channels != 1:
            raise UsageError(
                f"expected 48 kHz mono frames, got {frame.sample_rate} Hz x{frame.num_channels}"
            )
        seg = self._capturing
        if seg is None:
            seg = _Segment()
            self._capturing = seg
            self._segments.append(seg)
        if seg.interrupted:
            return  # cleared while the producer was still pushing: drop, as RoomIO does
        pcm = np.frombuffer(frame.data, dtype=np.int16).copy()
        seg.pending.append(pcm)
        seg.pending_samples += len(pcm)

    def flush(self) -> None:
        super().flush()
        seg, self._capturing = self._capturing, None
        if seg is None:
            return
        seg.flushed = True
        if seg.interrupted:
            self._finish(seg)

    def clear_buffer(self) -> None:
        live = [seg for seg in self._segments if not seg.interrupted]
        if not live:
            return
        # Frames still in the publisher's send queue are dropped by clear_queue() and
        # never leave: take them out of the pre_rtc record, which must hold exactly
        # what was sent (else the cut shows up as a dropout that never happened).
        unsent_frames = round(
            self._publisher.queued_duration_s * SAMPLE_RATE_HZ / SAMPLES_PER_FRAME
        )
        self._publisher.clear_queue()
        for seg in reversed(self._segments):
            if unsent_frames <= 0:
                break
            n = min(unsent_frames, len(seg.record.frames))
            if n:
                del seg.record.frames[len(seg.record.frames) - n :]
                unsent_frames -= n
        for seg in live:
            seg.interrupted = True
            seg.pending.clear()
            seg.pending_samples = 0
            if seg.flushed:
                self._finish(seg)

    def after_next_frame(self, callback: Callable[[], None]) -> None:
        """Call `callback` (once) when the pump has handed the publisher its next frame."""
        self._after_next.append(callback)

    # -- the pump ---------------------------------------------------------------

    async def run(self) -> None:
        """Hand the publisher one frame per 10 ms until cancelled or the connection is gone
        (the room was deleted or the agent left it: there is nobody to play to)."""
        try:
            while True:
                seg, chunk = self._next_frame()
                frame = chunk
                if seg is not None:  # what "the network" makes of it (AfterTee)
                    k = len(seg.record.frames)
                    if k == 0:
                        self._after_tee.new_reply()
                    if (stall_s := self._after_tee.stall_s(k)) > 0:
                        await self._publisher.wait_for_playout()
                        await asyncio.sleep(stall_s)
                    frame = self._after_tee.transform(k, chunk)
                try:
                    await self._publisher.capture_frame(frame)
                except TransportError:
                    logger.info("agent output: the connection is gone, the pump stops")
                    return
                t_ns = self._clock.now_ns()
                self.frames_published += 1
                if self._after_next:
                    callbacks, self._after_next = self._after_next, []
                    for callback in callbacks:
                        callback()
                if seg is None:
                    self.silence_frames_published += 1
                else:
                    self._handed(seg, chunk, t_ns)  # the record keeps what was meant
                excess_s = self._publisher.queued_duration_s - self._lead_s
                if excess_s > 0:
                    await asyncio.sleep(excess_s)
        finally:
            for seg in list(self._segments):
                seg.interrupted = True
                if seg.flushed:
                    self._finish(seg)

    def _next_frame(self) -> tuple[_Segment | None, np.ndarray]:
        while self._segments:
            seg = self._segments[0]
            if seg.interrupted:
                if seg.flushed:
                    self._finish(seg)
                    continue
                return None, self._silence  # waiting for the producer's flush
            if seg.stalled or self._after_tee.stops_at(len(seg.record.frames)):
                seg.stalled = True
                return None, self._silence  # stuck mid-reply: it never ends
            if seg.hold_frames is None:
                seg.hold_frames = self._after_tee.hold_frames()
            if seg.hold_frames > 0 and seg.pending_samples:
                seg.hold_frames -= 1
                return None, self._silence  # delay_ms: the agent waits before replying
            n = self._after_tee.samples_to_take()
            frame = seg.take_frame(n)
            if frame is not None:
                self._after_tee.took(n)
            if frame is not None:
                return seg, frame
            if seg.flushed:
                self._finish(seg)  # fully handed over
                continue
            if seg.record.first_frame_t_ns is not None:
                # the producer is late mid-reply: the silence is part of the reply
                return seg, self._silence.copy()
            return None, self._silence
        return None, self._silence

    def _handed(self, seg: _Segment, frame: np.ndarray, t_ns: int) -> None:
        rec = seg.record
        rec.frames.append(frame)
        rec.done_t_ns = t_ns
        if rec.first_frame_t_ns is None:
            rec.first_frame_t_ns = t_ns
            self.current_playout = rec
            self.on_playback_started(created_at=time.time())  # livekit-agents' wall clock

    def _finish(self, seg: _Segment) -> None:
        if seg not in self._segments:
            return
        self._segments.remove(seg)
        rec = seg.record
        rec.interrupted = seg.interrupted
        if rec.first_frame_t_ns is not None:
            if seg.interrupted:
                rec.done_t_ns = self._clock.now_ns()  # reply_done: cancelled now
            self.records.append(rec)
        self.current_playout = rec
        played_s = sum(len(f) for f in rec.frames) / SAMPLE_RATE_HZ
        self.on_playback_finished(playback_position=played_s, interrupted=seg.interrupted)
