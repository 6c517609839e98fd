"""The duplex controller (agent/duplex.py): a pure, timestamped state machine."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from agent.duplex import (
    CancelDone,
    CancelLlm,
    CancelTts,
    ClearOutputQueue,
    DuplexController,
    DuplexEvent,
    DuplexOptions,
    DuplexState,
    EndOfTurn,
    FirstAudioOut,
    ReplyDone,
    Transition,
    TurnDetectorBargeIn,
    UserSpeechEnded,
    UserSpeechStarted,
)

MS = 1_000_000
CANCEL = (CancelTts(), CancelLlm(), ClearOutputQueue())
L, T, S, INT = (
    DuplexState.LISTENING,
    DuplexState.THINKING,
    DuplexState.SPEAKING,
    DuplexState.INTERRUPTING,
)


def feed(ctl: DuplexController, *events: DuplexEvent) -> list[object]:
    """Handle the events in order; all the actions they returned, flattened."""
    return [a for e in events for a in ctl.handle(e)]


def in_state(state: DuplexState) -> DuplexController:
    """A controller brought to `state` at t = 1000 ms (THINKING from 1000 ms on)."""
    ctl = DuplexController()
    if state is L:
        return ctl
    feed(ctl, EndOfTurn(1000 * MS))
    if state is S:
        feed(ctl, FirstAudioOut(1000 * MS))
    elif state is INT:
        feed(ctl, TurnDetectorBargeIn(1000 * MS))
    assert ctl.state is state
    return ctl


def test_starts_listening_with_nothing_recorded() -> None:
    ctl = DuplexController()
    assert ctl.state is L
    assert ctl.transitions == []
    assert ctl.last_cancel_latency_ms is None
    assert ctl.options.min_barge_in_ms == 300


def test_normal_cycle_goes_listening_thinking_speaking_listening_without_actions() -> None:
    ctl = DuplexController()
    actions = feed(
        ctl,
        UserSpeechStarted(0),
        UserSpeechEnded(900 * MS),
        EndOfTurn(1000 * MS),
        FirstAudioOut(1400 * MS),
        ReplyDone(3000 * MS),
    )
    assert actions == []
    assert ctl.state is L
    assert ctl.transitions == [
        Transition(1000 * MS, L, T, "end_of_turn"),
        Transition(1400 * MS, T, S, "first_audio_out"),
        Transition(3000 * MS, S, L, "reply_done"),
    ]
    assert not ctl.reply_interrupted
    assert ctl.last_cancel_latency_ms is None


@pytest.mark.parametrize("state", [T, S])
def test_barge_in_by_speech_cancels_in_cascade_order_then_cancel_done_returns_to_listening(
    state: DuplexState,
) -> None:
    ctl = in_state(state)
    assert feed(ctl, UserSpeechStarted(1100 * MS)) == []
    assert feed(ctl, UserSpeechEnded(1500 * MS)) == list(CANCEL)
    assert ctl.state is INT
    assert ctl.reply_interrupted
    assert feed(ctl, CancelDone(1537 * MS)) == []
    assert ctl.state is L
    assert ctl.transitions[-2:] == [
        Transition(1500 * MS, state, INT, "barge_in:user_speech"),
        Transition(1537 * MS, INT, L, "cancel_done"),
    ]
    assert ctl.last_cancel_latency_ms == 37.0


def test_cancel_latency_is_measured_exactly_from_decision_to_cancel_done() -> None:
    ctl = in_state(T)
    feed(ctl, TurnDetectorBargeIn(1_000_000_001))
    feed(ctl, CancelDone(1_012_345_679))
    assert ctl.last_cancel_latency_ms == 12.345678


@pytest.mark.parametrize("state", [T, S])
def test_turn_detector_barge_in_cancels_immediately(state: DuplexState) -> None:
    ctl = in_state(state)
    assert ctl.handle(TurnDetectorBargeIn(1200 * MS)) == CANCEL
    assert ctl.state is INT
    assert ctl.transitions[-1] == Transition(1200 * MS, state, INT, "barge_in:turn_detector")


@pytest.mark.parametrize(
    "second",
    [
        TurnDetectorBargeIn(1300 * MS),
        UserSpeechEnded(1700 * MS),
    ],
    ids=["turn_detector", "speech_end"],
)
def test_double_barge_in_is_ignored_without_duplicate_actions(second: DuplexEvent) -> None:
    ctl = in_state(S)
    feed(ctl, UserSpeechStarted(1100 * MS))
    assert ctl.handle(TurnDetectorBargeIn(1200 * MS)) == CANCEL
    assert ctl.handle(second) == ()
    assert ctl.tick(1800 * MS) == ()
    assert ctl.state is INT
    assert [tr.to_state for tr in ctl.transitions].count(INT) == 1


def test_tick_after_a_speech_barge_in_does_not_repeat_the_cancel() -> None:
    ctl = in_state(S)
    feed(ctl, UserSpeechStarted(1100 * MS))
    assert ctl.tick(1400 * MS) == CANCEL
    assert ctl.tick(1500 * MS) == ()
    assert ctl.handle(UserSpeechEnded(1600 * MS)) == ()
    assert ctl.state is INT


@pytest.mark.parametrize("state", [T, S])
def test_speech_shorter_than_the_minimum_is_ignored_at_its_end(state: DuplexState) -> None:
    ctl = in_state(state)
    before = ctl.transitions
    assert feed(ctl, UserSpeechStarted(1100 * MS), UserSpeechEnded(1399 * MS)) == []
    assert ctl.state is state
    assert ctl.transitions == before
    assert not ctl.reply_interrupted


@pytest.mark.parametrize("state", [T, S])
def test_tick_before_the_minimum_does_not_barge_in(state: DuplexState) -> None:
    ctl = in_state(state)
    feed(ctl, UserSpeechStarted(1100 * MS))
    assert ctl.tick(1200 * MS) == ()
    assert ctl.tick(1399 * MS) == ()
    assert ctl.state is state


@pytest.mark.parametrize(("min_ms", "tick_ms"), [(300, 1400), (300, 2000), (0, 1100), (50, 1150)])
def test_tick_barges_in_once_ongoing_speech_has_lasted_the_minimum(
    min_ms: int, tick_ms: int
) -> None:
    ctl = DuplexController(DuplexOptions(min_barge_in_ms=min_ms))
    feed(ctl, EndOfTurn(1000 * MS), FirstAudioOut(1000 * MS), UserSpeechStarted(1100 * MS))
    assert ctl.tick(tick_ms * MS) == CANCEL
    assert ctl.transitions[-1] == Transition(tick_ms * MS, S, INT, "barge_in:user_speech")
    feed(ctl, CancelDone(tick_ms * MS + 20 * MS))
    assert ctl.last_cancel_latency_ms == 20.0


def test_only_speech_after_the_reply_began_counts_toward_the_minimum() -> None:
    ctl = DuplexController()
    feed(ctl, UserSpeechStarted(0), EndOfTurn(1000 * MS))
    assert ctl.tick(1299 * MS) == ()
    assert ctl.tick(1300 * MS) == CANCEL


@pytest.mark.parametrize(
    "events",
    [
        [UserSpeechStarted(0), UserSpeechEnded(5000 * MS)],
        [UserSpeechStarted(0), TurnDetectorBargeIn(100 * MS)],
    ],
    ids=["long_speech", "turn_detector"],
)
def test_user_speech_during_listening_does_not_barge_in(events: list[DuplexEvent]) -> None:
    ctl = DuplexController()
    assert feed(ctl, *events) == []
    assert ctl.tick(6000 * MS) == ()
    assert ctl.state is L
    assert ctl.transitions == []


@pytest.mark.parametrize(
    ("state", "event"),
    [
        (L, FirstAudioOut(2000 * MS)),
        (L, ReplyDone(2000 * MS)),
        (L, CancelDone(2000 * MS)),
        (L, UserSpeechEnded(2000 * MS)),
        (T, EndOfTurn(2000 * MS)),
        (T, CancelDone(2000 * MS)),
        (S, EndOfTurn(2000 * MS)),
        (S, FirstAudioOut(2000 * MS)),
        (S, CancelDone(2000 * MS)),
        (INT, EndOfTurn(2000 * MS)),
        (INT, FirstAudioOut(2000 * MS)),
        (INT, ReplyDone(2000 * MS)),
    ],
)
def test_events_that_do_not_apply_are_ignored(state: DuplexState, event: DuplexEvent) -> None:
    ctl = in_state(state)
    before = ctl.transitions
    assert ctl.handle(event) == ()
    assert ctl.state is state
    assert ctl.transitions == before


def test_a_new_turn_after_an_interruption_clears_the_interrupted_mark() -> None:
    ctl = in_state(INT)
    assert ctl.reply_interrupted
    feed(ctl, CancelDone(1010 * MS), EndOfTurn(2000 * MS))
    assert ctl.state is T
    assert not ctl.reply_interrupted
    assert ctl.last_cancel_latency_ms == 10.0


@pytest.mark.parametrize(
    "go_back",
    [
        lambda ctl: ctl.handle(ReplyDone(999 * MS)),
        lambda ctl: ctl.handle(UserSpeechStarted(0)),
        lambda ctl: ctl.tick(999 * MS),
    ],
    ids=["event", "ignored_event", "tick"],
)
def test_time_going_backwards_raises(go_back: Callable[[DuplexController], object]) -> None:
    ctl = in_state(S)
    with pytest.raises(ValueError, match="backwards"):
        go_back(ctl)
    assert ctl.state is S


def test_equal_timestamps_are_allowed() -> None:
    ctl = DuplexController()
    feed(ctl, EndOfTurn(5), FirstAudioOut(5), ReplyDone(5))
    assert ctl.tick(5) == ()
    assert ctl.state is L


def test_negative_minimum_is_rejected() -> None:
    with pytest.raises(ValueError, match="min_barge_in_ms"):
        DuplexOptions(min_barge_in_ms=-1)


def test_a_reply_that_never_produced_audio_returns_to_listening() -> None:
    ctl = in_state(T)
    assert ctl.handle(ReplyDone(2000 * MS)) == ()
    assert ctl.state is L
    assert ctl.transitions[-1].cause == "reply_done_silent"
