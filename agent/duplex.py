"""The reference agent's duplex controller: who holds the floor, and how a barge-in cancels.

A pure state machine driven by timestamped events (`t_ns`, any monotonic clock in
nanoseconds). It reads no clock, awaits nothing and does no I/O: the caller feeds it
events, and carries out the actions that `handle` / `tick` return.

    state         event                                    next state     actions
    ------------  ---------------------------------------  -------------  ----------------
    LISTENING     EndOfTurn (the user's turn committed)    THINKING       -
    THINKING      FirstAudioOut (1st reply frame handed)   SPEAKING       -
    SPEAKING      ReplyDone (the reply finished playing)   LISTENING      -
    THINKING      ReplyDone (a reply with no audio at all)  LISTENING      -
    THINKING,     barge-in (see below)                     INTERRUPTING   CancelTts,
    SPEAKING                                                              CancelLlm,
                                                                          ClearOutputQueue
    INTERRUPTING  CancelDone (last frame handed after it)  LISTENING      -

Any other (state, event) pair is ignored: the state stays and no action is returned.
A second barge-in while INTERRUPTING ("double barge-in") is such a pair: the cancel
already under way is not repeated. The one error is an event (or a `tick`) older than
the last one handled: time only goes forward (`ValueError`).

A barge-in is either a `TurnDetectorBargeIn` (a turn detector decided the user is
taking the turn) or user speech, overlapping the reply (THINKING or SPEAKING), that has
lasted at least `DuplexOptions.min_barge_in_ms`; shorter speech (a cough, a "mm-hm") is
ignored. Only the part of the speech after the reply began (the move to THINKING)
counts. As the machine reads no clock, it checks that duration only when told the time:

- on `UserSpeechEnded`: duration = end - start (each event may say when the speech
  really began / ended, `speech_t_ns`, earlier than it is told: a VAD's delays);
- on `tick(now_ns)`: duration = now - start, for speech still going on. The caller
  invokes `tick` periodically (e.g. every audio frame) so that long speech interrupts
  the reply after `min_barge_in_ms` instead of at its end; the barge-in is decided, and
  timed, at the tick (or event) that finds the minimum reached.

Every transition is recorded (`transitions`), and the cancel latency (barge-in decision
to `CancelDone`) is kept in `last_cancel_latency_ms`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple

NS_PER_MS = 1_000_000


class DuplexState(StrEnum):
    LISTENING = "listening"
    THINKING = "thinking"
    SPEAKING = "speaking"
    INTERRUPTING = "interrupting"


# -- events (in) -------------------------------------------------------------------------


@dataclass(frozen=True)
class UserSpeechStarted:
    """Told at `t_ns`; the speech began at `speech_t_ns` (<= t_ns; default t_ns): a VAD
    says so only after some speech."""

    t_ns: int
    speech_t_ns: int | None = None


@dataclass(frozen=True)
class UserSpeechEnded:
    """Told at `t_ns`; the speech ended at `speech_t_ns` (<= t_ns; default t_ns): a VAD
    says so only after its hangover of silence."""

    t_ns: int
    speech_t_ns: int | None = None


@dataclass(frozen=True)
class EndOfTurn:
    """The user's turn is committed: the reply is to be produced."""

    t_ns: int


@dataclass(frozen=True)
class FirstAudioOut:
    """The reply's first audio frame was handed to the transport."""

    t_ns: int


@dataclass(frozen=True)
class ReplyDone:
    """The reply finished playing."""

    t_ns: int


@dataclass(frozen=True)
class TurnDetectorBargeIn:
    """A turn detector decided that the user is taking the turn."""

    t_ns: int


@dataclass(frozen=True)
class CancelDone:
    """The last output frame after a cancel was handed to the transport."""

    t_ns: int


DuplexEvent = (
    UserSpeechStarted
    | UserSpeechEnded
    | EndOfTurn
    | FirstAudioOut
    | ReplyDone
    | TurnDetectorBargeIn
    | CancelDone
)


# -- actions (out) -----------------------------------------------------------------------


@dataclass(frozen=True)
class CancelTts:
    pass


@dataclass(frozen=True)
class CancelLlm:
    pass


@dataclass(frozen=True)
class ClearOutputQueue:
    pass


DuplexAction = CancelTts | CancelLlm | ClearOutputQueue
CANCEL_CASCADE: tuple[DuplexAction, ...] = (CancelTts(), CancelLlm(), ClearOutputQueue())
NO_ACTIONS: tuple[DuplexAction, ...] = ()


@dataclass(frozen=True)
class DuplexOptions:
    min_barge_in_ms: int = 300

    def __post_init__(self) -> None:
        if self.min_barge_in_ms < 0:
            raise ValueError(f"min_barge_in_ms must be >= 0, not {self.min_barge_in_ms}")


def _at(speech_t_ns: int | None, t_ns: int) -> int:
    if speech_t_ns is None:
        return t_ns
    if speech_t_ns > t_ns:
        raise ValueError(f"speech_t_ns={speech_t_ns} is after the event's t_ns={t_ns}")
    return speech_t_ns


class Transition(NamedTuple):
    t_ns: int
    from_state: DuplexState
    to_state: DuplexState
    cause: str


_REPLYING = (DuplexState.THINKING, DuplexState.SPEAKING)


class DuplexController:
    """The duplex state machine; see the module docstring."""

    def __init__(self, options: DuplexOptions | None = None) -> None:
        self.options = options or DuplexOptions()
        self._state = DuplexState.LISTENING
        self._last_t_ns: int | None = None
        self._speech_start_ns: int | None = None  # user speech going on since
        self._reply_start_ns: int | None = None  # the move to THINKING
        self._barge_in_ns: int | None = None
        self._transitions: list[Transition] = []
        self.last_cancel_latency_ms: float | None = None
        self.reply_interrupted = False  # the current / last reply was barged in on

    @property
    def state(self) -> DuplexState:
        return self._state

    @property
    def transitions(self) -> list[Transition]:
        """(t_ns, from_state, to_state, cause) of every transition so far (a copy)."""
        return list(self._transitions)

    def handle(self, event: DuplexEvent) -> tuple[DuplexAction, ...]:
        """Apply one event; return the actions for the caller to carry out, in order."""
        t = event.t_ns
        self._advance(t)
        state = self._state
        match event:
            case UserSpeechStarted():
                if self._speech_start_ns is None:
                    self._speech_start_ns = _at(event.speech_t_ns, t)
            case UserSpeechEnded():
                started, self._speech_start_ns = self._speech_start_ns, None
                ended = _at(event.speech_t_ns, t)
                if started is not None and self._speech_long_enough(started, ended):
                    return self._barge_in(t, "barge_in:user_speech")
            case EndOfTurn() if state is DuplexState.LISTENING:
                self._reply_start_ns = t
                self.reply_interrupted = False
                self._move(t, DuplexState.THINKING, "end_of_turn")
            case FirstAudioOut() if state is DuplexState.THINKING:
                self._move(t, DuplexState.SPEAKING, "first_audio_out")
            case ReplyDone() if state is DuplexState.SPEAKING:
                self._move(t, DuplexState.LISTENING, "reply_done")
            case ReplyDone() if state is DuplexState.THINKING:  # a reply with no audio
                self._move(t, DuplexState.LISTENING, "reply_done_silent")
            case TurnDetectorBargeIn():
                return self._barge_in(t, "barge_in:turn_detector")
            case CancelDone() if state is DuplexState.INTERRUPTING:
                if self._barge_in_ns is not None:  # always set on entering INTERRUPTING
                    self.last_cancel_latency_ms = (t - self._barge_in_ns) / NS_PER_MS
                self._barge_in_ns = None
                self._move(t, DuplexState.LISTENING, "cancel_done")
            case _:
                pass  # does not apply in this state
        return NO_ACTIONS

    def tick(self, now_ns: int) -> tuple[DuplexAction, ...]:
        """Tell the machine the time: speech still going on may have become a barge-in."""
        self._advance(now_ns)
        started = self._speech_start_ns
        if started is not None and self._speech_long_enough(started, now_ns):
            return self._barge_in(now_ns, "barge_in:user_speech")
        return NO_ACTIONS

    # -- internals ---------------------------------------------------------------------

    def _advance(self, t_ns: int) -> None:
        if self._last_t_ns is not None and t_ns < self._last_t_ns:
            raise ValueError(
                f"time went backwards: t_ns={t_ns} is before the last handled {self._last_t_ns}"
            )
        self._last_t_ns = t_ns

    def _speech_long_enough(self, started_ns: int, now_ns: int) -> bool:
        """Whether speech since `started_ns` overlapped the reply for the minimum by now."""
        if self._state not in _REPLYING or self._reply_start_ns is None:
            return False
        overlap_ns = now_ns - max(started_ns, self._reply_start_ns)
        return overlap_ns >= self.options.min_barge_in_ms * NS_PER_MS

    def _barge_in(self, t_ns: int, cause: str) -> tuple[DuplexAction, ...]:
        if self._state not in _REPLYING:
            return NO_ACTIONS  # nothing to interrupt, or the cancel is already under way
        self._barge_in_ns = t_ns
        self.reply_interrupted = True
        self._move(t_ns, DuplexState.INTERRUPTING, cause)
        return CANCEL_CASCADE

    def _move(self, t_ns: int, to: DuplexState, cause: str) -> None:
        self._transitions.append(Transition(t_ns, self._state, to, cause))
        self._state = to
