"""A pass-through `io.AudioOutput` that records what the agent said before the network.

`TeeOutput` sits in front of `session.output.audio`. Every frame the session
captures is forwarded unchanged and also kept (as 48 kHz mono int16), and the
playback events of the chain tell its `ReplyListener` (the hooks) when a reply
started reaching the transport and when it finished or was interrupted, with the
PCM that was handed over. A sink that records exactly what it handed to the
transport (`ExactPlayoutSink`) is trusted over the tee's own copy.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np
from livekit import rtc
from livekit.agents.voice import io

from autortc.audio import SAMPLE_RATE_HZ


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
class TeeReply:
    turn_id: int
    frames: list[np.ndarray] = field(default_factory=list)
    seq: int | None = None  # set at playback_started
    captured_t_ns: int | None = None  # its first frame reached the output (monotonic)
    finished: bool = False


class ReplyListener(Protocol):
    """What the tee reports to (AutortcHooks)."""

    def reply_turn_id(self) -> int: ...

    def on_reply_started(self, reply: TeeReply, first_frame_t_ns: int) -> None: ...

    def on_reply_finished(
        self, reply: TeeReply, pcm: np.ndarray, interrupted: bool, done_t_ns: int
    ) -> None: ...


class TeeOutput(io.AudioOutput):
    """Pass-through AudioOutput: records captured PCM and reports segment events."""

    def __init__(self, hooks: ReplyListener, next_in_chain: io.AudioOutput) -> None:
        super().__init__(
            label="AutortcTee",
            capabilities=io.AudioOutputCapabilities(pause=next_in_chain.can_pause),
            next_in_chain=next_in_chain,
        )
        self._hooks = hooks
        self._replies: deque[TeeReply] = deque()
        self._capturing: TeeReply | None = None
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
            self._capturing = TeeReply(
                turn_id=self._hooks.reply_turn_id(), captured_t_ns=time.monotonic_ns()
            )
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
        if self._capturing is not None and self._resampler is not None:
            # the resampler's tail belongs to this reply, not the next one
            self._capturing.frames.extend(
                np.frombuffer(f.data, dtype=np.int16).copy() for f in self._resampler.flush()
            )
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
            self._hooks.on_reply_started(reply, t_ns)
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
        self._hooks.on_reply_finished(reply, pcm, interrupted, done_t_ns or time.monotonic_ns())

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
            self._hooks.on_reply_finished(reply, pcm, True, time.monotonic_ns())
