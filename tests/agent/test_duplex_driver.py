"""The duplex driver (agent/duplex_driver.py): the controller on a session, with fakes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from agent.duplex import DuplexController, DuplexOptions, DuplexState
from agent.duplex_driver import BRIDGE_MS, DuplexDriver

MS = 1_000_000
VOICED = np.full(480, 3000, dtype=np.int16)  # about -21 dBFS
QUIET = np.zeros(480, dtype=np.int16)


class FakeClock:
    def __init__(self) -> None:
        self.t_ns = 1_000 * MS

    def now_ns(self) -> int:
        return self.t_ns

    def wall_s(self) -> float:  # the same time line, in wall-clock seconds
        return self.t_ns / 1e9


class Emitter:
    def __init__(self) -> None:
        self.handlers: dict[str, list[Callable[[Any], None]]] = {}

    def on(self, event: str, callback: Callable[[Any], None]) -> None:
        self.handlers.setdefault(event, []).append(callback)

    def emit(self, event: str, ev: Any) -> None:
        for cb in self.handlers.get(event, []):
            cb(ev)


class FakeHandle:
    def __init__(self) -> None:
        self.callbacks: list[Callable[[Any], None]] = []

    def add_done_callback(self, cb: Callable[[Any], None]) -> None:
        self.callbacks.append(cb)

    def done(self) -> None:
        for cb in self.callbacks:
            cb(self)


class FakeSession(Emitter):
    """livekit-agents' contract: interrupt() refuses an uninterruptible speech."""

    def __init__(self) -> None:
        super().__init__()
        self.interrupts = 0
        self.uninterruptible = False

    def interrupt(self, *, force: bool = False) -> None:
        assert not force
        if self.uninterruptible:
            raise RuntimeError("the speech disallows interruptions")
        self.interrupts += 1


class FakeOutput(Emitter):
    """Clearing stops the reply; the next frame it hands runs the waiting callbacks."""

    def __init__(self) -> None:
        super().__init__()
        self.cleared = 0
        self.waiting: list[Callable[[], None]] = []

    def clear_buffer(self) -> None:
        self.cleared += 1

    def after_next_frame(self, callback: Callable[[], None]) -> None:
        self.waiting.append(callback)

    def hand_frame(self) -> None:
        callbacks, self.waiting = self.waiting, []
        for cb in callbacks:
            cb()


@dataclass
class UserState:
    old_state: str
    new_state: str
    created_at: float


@dataclass
class Playback:
    interrupted: bool


@dataclass
class Created:
    speech_handle: FakeHandle


class Rig:
    def __init__(self, *, act: bool = True, decides: bool = True) -> None:
        self.clock = FakeClock()
        self.session = FakeSession()
        self.output = FakeOutput()
        self.marks: list[tuple[str, int]] = []
        self.states: list[DuplexState] = []
        self.driver = DuplexDriver(
            DuplexController(DuplexOptions(min_barge_in_ms=300)),
            session=self.session,
            output=self.output,
            clock=self.clock,
            trace_mark=lambda p, t: self.marks.append((p, t)),
            on_state=self.states.append,
            act=act,
            decides=decides,
            wall_s=self.clock.wall_s,
        ).attach()

    def advance_ms(self, ms: float) -> None:
        self.clock.t_ns += round(ms * MS)

    def frames(self, pcm: np.ndarray, ms: int) -> None:
        for _ in range(ms // 10):
            self.advance_ms(10)
            self.driver.heard_frame(pcm)

    def reply_playing(self) -> FakeHandle:
        handle = FakeHandle()
        self.session.emit("speech_created", Created(handle))
        self.advance_ms(50)
        self.output.emit("playback_started", object())
        return handle

    def user_speaks(self, *, vad_delay_ms: float = 60) -> None:
        """The VAD says "speaking" `vad_delay_ms` after the speech began."""
        began = self.clock.wall_s() - vad_delay_ms / 1000
        self.session.emit("user_state_changed", UserState("listening", "speaking", began))


def test_a_reply_moves_thinking_speaking_listening() -> None:
    rig = Rig()
    rig.reply_playing()
    assert rig.driver.controller.state is DuplexState.SPEAKING
    rig.advance_ms(800)
    rig.output.emit("playback_finished", Playback(interrupted=False))
    assert rig.states == [DuplexState.THINKING, DuplexState.SPEAKING, DuplexState.LISTENING]
    assert rig.marks == []
    assert rig.session.interrupts == 0


def test_speech_over_the_reply_cancels_it_at_the_minimum_and_times_the_cancel() -> None:
    rig = Rig()
    rig.reply_playing()
    rig.advance_ms(1000)
    rig.frames(VOICED, 60)  # the VAD needs some speech before it says so
    rig.user_speaks(vad_delay_ms=60)
    rig.frames(VOICED, 230)
    assert rig.session.interrupts == 0  # 290 ms of speech: not yet
    rig.frames(VOICED, 10)
    assert rig.session.interrupts == 1
    assert rig.output.cleared == 1
    assert rig.driver.controller.state is DuplexState.INTERRUPTING
    decided = rig.clock.t_ns
    rig.advance_ms(7)
    rig.output.hand_frame()  # the pump's first frame after the cancel
    assert rig.driver.controller.state is DuplexState.LISTENING
    assert rig.marks == [("barge_in", decided), ("cancel_done", decided + 7 * MS)]
    assert rig.driver.cancel_latencies_ms == [7.0]


def test_a_cough_shorter_than_the_minimum_is_ignored_through_the_vad_hangover() -> None:
    rig = Rig()
    rig.reply_playing()
    rig.advance_ms(500)
    rig.frames(VOICED, 60)
    rig.user_speaks(vad_delay_ms=60)
    rig.frames(VOICED, 60)  # a 120 ms cough
    rig.frames(QUIET, 350)  # the VAD's hangover: still "speaking" to livekit-agents
    end = rig.clock.wall_s() - 0.35
    rig.session.emit("user_state_changed", UserState("speaking", "listening", end))
    assert rig.session.interrupts == 0
    assert rig.marks == []
    assert rig.driver.controller.state is DuplexState.SPEAKING


def test_a_short_gap_inside_speech_counts_as_speech() -> None:
    rig = Rig()
    rig.reply_playing()
    rig.frames(VOICED, 60)
    rig.user_speaks(vad_delay_ms=60)
    rig.frames(VOICED, 150)  # "Stop," ...
    rig.frames(QUIET, BRIDGE_MS)  # ... a stop closure ...
    assert rig.session.interrupts == 1  # 310 ms after the speech began


def test_ignoring_the_caller_decides_but_does_nothing() -> None:
    rig = Rig(act=False)
    rig.reply_playing()
    rig.frames(VOICED, 60)
    rig.user_speaks()
    rig.frames(VOICED, 400)
    assert rig.session.interrupts == 0
    assert rig.output.cleared == 0
    assert [p for p, _ in rig.marks] == ["barge_in"]  # decided, never cancelled
    assert rig.driver.controller.state is DuplexState.LISTENING


def test_livekit_mode_only_mirrors_an_interruption_it_did_not_ask_for() -> None:
    rig = Rig(decides=False)
    rig.reply_playing()
    rig.frames(VOICED, 60)
    rig.user_speaks()
    rig.frames(VOICED, 600)
    assert rig.session.interrupts == 0  # livekit-agents decides
    rig.output.emit("playback_finished", Playback(interrupted=True))
    causes = [t.cause for t in rig.driver.controller.transitions]
    assert causes[-2:] == ["barge_in:turn_detector", "cancel_done"]
    assert rig.marks == []
    assert rig.session.interrupts == 0


def test_a_reply_that_ends_before_any_audio_returns_to_listening() -> None:
    rig = Rig()
    handle = FakeHandle()
    rig.session.emit("speech_created", Created(handle))
    rig.advance_ms(100)
    handle.done()
    assert rig.driver.controller.state is DuplexState.LISTENING
    assert rig.driver.controller.transitions[-1].cause == "reply_done_silent"


def test_an_uninterruptible_speech_plays_on() -> None:
    rig = Rig()
    rig.session.uninterruptible = True  # say(..., allow_interruptions=False)
    rig.reply_playing()
    rig.frames(VOICED, 60)
    rig.user_speaks()
    rig.frames(VOICED, 400)
    assert rig.session.interrupts == 0
    assert rig.output.cleared == 0
    assert rig.driver.cancel_latencies_ms == []
    assert rig.driver.controller.state is DuplexState.LISTENING
