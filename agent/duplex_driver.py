"""Binds the duplex controller (agent/duplex.py) to a livekit-agents session.

The controller is pure; this driver feeds it events stamped on one injected clock and
carries out its actions. Who decides what (README, "The duplex controller"):

- **The controller decides** a barge-in by user speech: VAD speech start / end
  (`user_state_changed`) and a `tick` on every voiced user frame (level >=
  `VOICED_DBFS` after the noise gate; gaps of at most `BRIDGE_MS` count as speech),
  so speech that overlaps the reply for `min_barge_in_ms` interrupts it as it
  reaches the minimum. The VAD says "speaking"
  some time after the speech began and "listening" a hangover after it ended; the
  events carry when it began / ended (`created_at`), which the machine is told, and
  no tick counts the hangover's silence (a 100 ms cough is not a 450 ms barge-in).
  livekit-agents' own audio-activity interruption is pushed out of the way
  (`LIVEKIT_MIN_DURATION_S`), and the driver carries out the cascade through the
  public API: `session.interrupt()` cancels the speech's TTS and LLM tasks (`CancelTts`,
  `CancelLlm`), and `output.clear_buffer()` drops the queued audio at once
  (`ClearOutputQueue`: the transport's `clear_queue`). A speech its maker declared
  uninterruptible (`say(..., allow_interruptions=False)`) is left to play: livekit-agents
  refuses the interrupt, and the driver clears nothing.
- **livekit-agents keeps** the end of the user's turn (its endpointing and turn
  detector start the reply: `speech_created`), and the interruption of a reply by a
  newly committed user turn (it interrupts the speech itself before it creates the
  next). The controller mirrors both: `EndOfTurn`, and a `TurnDetectorBargeIn` when a
  reply's playback ends interrupted without the controller having asked.

Trace: `barge_in` at the decision and `cancel_done` once the reply's audio stopped (the
pump handed the transport its first frame after the cancel, so the reply's last frame
is out), on the interrupted reply's turn; their difference is the agent's cancel
latency (`agent_cancel_ms`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

from agent.duplex import (
    CancelDone,
    CancelLlm,
    CancelTts,
    ClearOutputQueue,
    DuplexAction,
    DuplexController,
    DuplexEvent,
    DuplexState,
    EndOfTurn,
    FirstAudioOut,
    ReplyDone,
    TurnDetectorBargeIn,
    UserSpeechEnded,
    UserSpeechStarted,
)
from autortc.clock import MONOTONIC, Clock

logger = logging.getLogger(__name__)

VOICED_DBFS = -45.0
BRIDGE_MS = 100
"""A gap in the speech this short counts as speech (a stop consonant, a breath)."""
BRIDGE_NS = BRIDGE_MS * 1_000_000
LIVEKIT_MIN_DURATION_S = 3600.0
"""livekit-agents' `interruption.min_duration` under the controller: never reached, so
its audio-activity interruption never fires and the controller's decision stands."""

AGENT_STATE_ATTRIBUTE = "lk.agent.state"  # livekit.agents.types.ATTRIBUTE_AGENT_STATE
DUPLEX_STATE_ATTRIBUTE = "autortc.duplex_state"

# livekit-agents' AgentState for each duplex state (it has no "interrupting": its
# session says "listening" once a reply is interrupted)
LK_AGENT_STATE = {
    DuplexState.LISTENING: "listening",
    DuplexState.THINKING: "thinking",
    DuplexState.SPEAKING: "speaking",
    DuplexState.INTERRUPTING: "listening",
}


class Session(Protocol):
    """What the driver uses of an AgentSession."""

    def on(self, event: Any, callback: Any = None) -> Any: ...

    def interrupt(self, *, force: bool = False) -> Any: ...


class Output(Protocol):
    """What the driver uses of the agent's audio output (TransportAudioOutput)."""

    def on(self, event: Any, callback: Any = None) -> Any: ...

    def clear_buffer(self) -> None: ...

    def after_next_frame(self, callback: Callable[[], None]) -> None:
        """Call `callback` once the pump has handed the transport its next frame."""
        ...


StateListener = Callable[[DuplexState], None]
TraceMark = Callable[[str, int], None]


class DuplexDriver:
    """Feeds `controller` from `session` and `output` and carries out its actions.

    `act=False` (the ignore_barge_in defect) keeps the decisions and the trace but
    carries out nothing: the agent talks over the caller. `decides=False` leaves the
    barge-in by speech to livekit-agents (`--duplex livekit`): the driver only mirrors."""

    def __init__(
        self,
        controller: DuplexController,
        *,
        session: Session,
        output: Output,
        clock: Clock = MONOTONIC,
        trace_mark: TraceMark | None = None,
        on_state: StateListener | None = None,
        act: bool = True,
        decides: bool = True,
        wall_s: Callable[[], float] = time.time,
    ) -> None:
        self.controller = controller
        self._session = session
        self._output = output
        self._clock = clock
        self._trace_mark = trace_mark
        self._on_state = on_state
        self._act = act
        self._decides = decides
        self._wall_s = wall_s  # livekit-agents' event times are wall-clock seconds
        self._voiced_rms = 10 ** (VOICED_DBFS / 20) * 32768
        self._last_voiced_ns: int | None = None
        self.barge_ins = 0
        self.cancel_latencies_ms: list[float] = []

    def attach(self) -> DuplexDriver:
        self._session.on("user_state_changed", self._on_user_state)
        self._session.on("speech_created", self._on_speech_created)
        self._output.on("playback_started", self._on_playback_started)
        self._output.on("playback_finished", self._on_playback_finished)
        return self

    # -- inputs -------------------------------------------------------------------------

    def heard_frame(self, pcm: np.ndarray, _recv_t_ns: int = 0) -> None:
        """A user audio frame reached the VAD: one that is voiced, or in a gap of at
        most `BRIDGE_MS` after one, tells the machine the time."""
        if len(pcm) == 0 or not self._decides:
            return
        now = self._clock.now_ns()
        rms = float(np.sqrt(np.mean(pcm.astype(np.float64) ** 2)))
        if rms >= self._voiced_rms:
            self._last_voiced_ns = now
        elif self._last_voiced_ns is None or now - self._last_voiced_ns > BRIDGE_NS:
            return
        self._tick(now)

    def _on_user_state(self, ev: Any) -> None:
        if not self._decides:
            return
        now = self._clock.now_ns()
        # livekit-agents dates the change when the speech began / ended (wall clock)
        age_ns = max(0, round((self._wall_s() - float(ev.created_at)) * 1e9))
        if ev.new_state == "speaking":
            self._handle(UserSpeechStarted(now, speech_t_ns=now - age_ns))
        elif ev.old_state == "speaking":
            ended = now - age_ns
            if self._last_voiced_ns is not None:
                ended = min(ended, self._last_voiced_ns + BRIDGE_NS)
            self._handle(UserSpeechEnded(now, speech_t_ns=ended))

    def _on_speech_created(self, ev: Any) -> None:
        if self.controller.state is not DuplexState.LISTENING:
            return  # queued behind the current reply (e.g. say()): no new turn
        self._handle(EndOfTurn(self._clock.now_ns()))
        handle = getattr(ev, "speech_handle", None)
        if handle is not None:
            handle.add_done_callback(self._on_speech_done)

    def _on_speech_done(self, _handle: Any) -> None:
        if self.controller.state is DuplexState.THINKING:  # ended before any audio
            self._handle(ReplyDone(self._clock.now_ns()))

    def _on_playback_started(self, _ev: Any) -> None:
        self._handle(FirstAudioOut(self._clock.now_ns()))

    def _on_playback_finished(self, ev: Any) -> None:
        now = self._clock.now_ns()
        if not getattr(ev, "interrupted", False):
            self._handle(ReplyDone(now))
        elif self.controller.state in (DuplexState.THINKING, DuplexState.SPEAKING):
            # interrupted, and not by us: livekit-agents' decision (a committed user turn)
            self._handle(TurnDetectorBargeIn(now))

    # -- the machine --------------------------------------------------------------------

    def _handle(self, event: DuplexEvent) -> None:
        self._run(lambda: self.controller.handle(event))

    def _tick(self, now_ns: int) -> None:
        self._run(lambda: self.controller.tick(now_ns))

    def _run(self, step: Callable[[], tuple[DuplexAction, ...]]) -> None:
        """One step of the machine; then its actions; then each transition reported."""
        before = len(self.controller.transitions)
        actions = step()
        if actions:
            self._cascade(actions)
        for tr in self.controller.transitions[before:]:
            logger.debug(
                "duplex transition",
                extra={"from": tr.from_state.value, "to": tr.to_state.value, "cause": tr.cause},
            )
            if self._on_state is not None:
                self._on_state(tr.to_state)

    def _cascade(self, actions: tuple[DuplexAction, ...]) -> None:
        """A barge-in was decided (the controller is INTERRUPTING): cancel in cascade."""
        decided_ns = self.controller.transitions[-1].t_ns
        self.barge_ins += 1
        mirrored = self.controller.transitions[-1].cause == "barge_in:turn_detector"
        acting = self._act and not mirrored
        if not mirrored:
            self._mark("barge_in", decided_ns)
        if acting:
            if any(isinstance(a, (CancelTts, CancelLlm)) for a in actions):
                try:
                    self._session.interrupt()
                except RuntimeError:
                    # the speech was made uninterruptible (say(allow_interruptions=False)):
                    # the agent chose to talk on, and its audio is left to play
                    logger.info("barge-in on an uninterruptible speech: it plays on")
                    self.controller.handle(CancelDone(self._clock.now_ns()))
                    return
            if any(isinstance(a, ClearOutputQueue) for a in actions):
                self._output.clear_buffer()
                # the reply's last frame is out once the pump hands its next one
                self._output.after_next_frame(self._cancel_done)
                return
        # not acting: the reply is left to play on; mirrored: livekit-agents stopped it
        # before we heard of it, at a time we do not know. No cancel latency either way
        self.controller.handle(CancelDone(self._clock.now_ns()))

    def _cancel_done(self) -> None:
        done_ns = self._clock.now_ns()
        self._handle(CancelDone(done_ns))
        if self.controller.last_cancel_latency_ms is not None:
            self._mark("cancel_done", done_ns)
            self.cancel_latencies_ms.append(self.controller.last_cancel_latency_ms)

    def _mark(self, point: str, t_ns: int) -> None:
        if self._trace_mark is not None:
            self._trace_mark(point, t_ns)
