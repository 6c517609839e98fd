"""Ring 3, turn-taking, on synthetic user and agent tracks with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from autortc.metrics import registry as M
from autortc.metrics.attempt import analyze_attempt
from autortc.metrics.inputs import ReplyEvents, TurnTiming

SR = 48_000


def _turn(synth, index: int, start_s: float, eot_s: float, **kw) -> TurnTiming:
    return TurnTiming(index, synth.t_of(start_s * SR), synth.t_of(eot_s * SR), **kw)


def _agent(synth, n_s: float, *spans: tuple[float, float]) -> np.ndarray:
    post = np.zeros(int(n_s * SR))
    for a, b in spans:
        post[int(a * SR) : int(b * SR)] = synth.tone(int(b * SR) - int(a * SR))
    return post


def _row(synth, post, turns, replies=(), **kw):
    return analyze_attempt(
        synth.make_inputs(post, eot_sample=0, turns=list(turns), replies=list(replies), **kw)
    )


def test_an_onset_1_2_s_before_the_eot_is_a_false_endpoint_1200_ms_early(synth):
    # the user speaks 1.0 .. 4.0 s; the agent starts at 2.8 s (1.2 s early) and talks on
    row = _row(synth, _agent(synth, 8, (2.8, 5.0)), [_turn(synth, 0, 1.0, 4.0)])
    t = row.turns[0]
    assert t.get(M.FALSE_ENDPOINT) == 1
    assert t.get(M.EARLY_REPLY) == pytest.approx(1200.0, abs=M.EARLY_REPLY.tolerance)
    # nothing *started* after the EoT: no answer, so no latency at all, never a negative one
    assert t.get(M.EOT_TO_FIRST_AUDIO) is None
    assert "no reply started after" in row.null_reasons[M.EOT_TO_FIRST_AUDIO.name]


def test_400_ms_of_double_talk_is_400_ms_of_overlap(synth):
    # the user speaks 1.0 .. 3.0 s; the agent starts 400 ms before the EoT
    row = _row(synth, _agent(synth, 6, (2.6, 3.5)), [_turn(synth, 0, 1.0, 3.0)])
    assert row.turns[0].get(M.OVERLAP) == pytest.approx(400.0, abs=M.OVERLAP.tolerance)
    assert row.turns[0].get(M.FALSE_ENDPOINT) == 1


def test_overlap_counts_only_the_user_speech_segments(synth):
    # speech 1.0-2.0 and 2.6-3.0 (a 600 ms pause); the agent fills the pause exactly
    turn = _turn(
        synth,
        0,
        1.0,
        3.0,
        speech_segments_left_t_ns=(
            (synth.t_of(1.0 * SR), synth.t_of(2.0 * SR)),
            (synth.t_of(2.6 * SR), synth.t_of(3.0 * SR)),
        ),
    )
    row = _row(synth, _agent(synth, 6, (2.0, 2.6)), [turn])
    assert row.turns[0].get(M.OVERLAP) == pytest.approx(0.0, abs=M.OVERLAP.tolerance)
    assert row.turns[0].get(M.FALSE_ENDPOINT) == 1  # it still answered mid-turn


def test_a_polite_answer_has_no_false_endpoint_no_overlap_and_positive_latency(synth):
    row = _row(synth, _agent(synth, 6, (3.5, 4.5)), [_turn(synth, 0, 1.0, 3.0)])
    t = row.turns[0]
    assert (t.get(M.FALSE_ENDPOINT), t.get(M.OVERLAP), t.get(M.UNANSWERED)) == (0, 0.0, 0)
    assert t.get(M.EOT_TO_FIRST_AUDIO) == pytest.approx(500.0, abs=M.EOT_TO_FIRST_AUDIO.tolerance)


def test_an_early_reply_then_the_real_answer_measures_the_real_answer(synth):
    # the agent barks at 2.0 s (mid-turn, stopped by the caller), answers properly at 3.6 s
    post = _agent(synth, 7, (2.0, 2.4), (3.6, 4.6))
    replies = [
        ReplyEvents(0, synth.t_of(2.0 * SR - 480), synth.t_of(2.4 * SR), True),
        ReplyEvents(1, synth.t_of(3.6 * SR - 480), synth.t_of(4.6 * SR), False),
    ]
    row = _row(synth, post, [_turn(synth, 0, 1.0, 3.0)], replies)
    t = row.turns[0]
    assert t.get(M.FALSE_ENDPOINT) == 1
    assert t.get(M.EARLY_REPLY) == pytest.approx(1000.0, abs=10)
    assert t.reply_seq == 1
    assert t.get(M.EOT_TO_FIRST_AUDIO) == pytest.approx(600.0, abs=1.0)


def test_audio_already_playing_when_the_turn_began_is_no_false_endpoint(synth):
    # a greeting plays 0.0 .. 1.5 s; the user starts at 1.0 s over its tail
    row = _row(synth, _agent(synth, 6, (0.0, 1.5), (3.5, 4.0)), [_turn(synth, 0, 1.0, 3.0)])
    t = row.turns[0]
    assert t.get(M.FALSE_ENDPOINT) == 0
    assert t.get(M.OVERLAP) == pytest.approx(500.0, abs=10)
    assert t.get(M.EOT_TO_FIRST_AUDIO) == pytest.approx(500.0, abs=1.0)


def test_no_audio_within_5_s_of_the_eot_is_unanswered(synth):
    late = _row(synth, _agent(synth, 10, (8.5, 9.0)), [_turn(synth, 0, 1.0, 3.0)])
    assert late.turns[0].get(M.UNANSWERED) == 1
    assert late.turns[0].get(M.EOT_TO_FIRST_AUDIO) == pytest.approx(5500.0, abs=1.0)
    in_time = _row(synth, _agent(synth, 10, (7.5, 9.0)), [_turn(synth, 0, 1.0, 3.0)])
    assert in_time.turns[0].get(M.UNANSWERED) == 0
    shorter = _row(
        synth, _agent(synth, 10, (7.5, 9.0)), [_turn(synth, 0, 1.0, 3.0)], reply_within_ms=2000
    )
    assert shorter.turns[0].get(M.UNANSWERED) == 1
    silent = _row(synth, np.zeros(10 * SR), [_turn(synth, 0, 1.0, 3.0)], expects_reply=False)
    assert silent.turns[0].get(M.UNANSWERED) == 0


def test_the_intended_overlap_of_a_barge_in_is_excluded_up_to_the_agents_stop(synth):
    # reply 0 plays 3.0 .. 5.3 s; the barge-in speaks 4.5 .. 6.0 s; the agent stops at 5.3
    turns = [_turn(synth, 0, 1.0, 2.5), _turn(synth, 1, 4.5, 6.0, is_barge_in=True)]
    replies = [ReplyEvents(0, synth.t_of(3.0 * SR - 480), synth.t_of(5.3 * SR), True)]
    row = _row(synth, _agent(synth, 8, (3.0, 5.3)), turns, replies)
    barge = row.turns[1]
    assert barge.get(M.BARGE_IN_STOP) == pytest.approx(800.0, abs=1.0)
    assert barge.get(M.OVERLAP) == pytest.approx(0.0, abs=10)
    assert barge.get(M.FALSE_ENDPOINT) == 0  # the interrupted reply was already playing


def test_a_reply_cut_short_in_a_noise_turn_is_a_false_interruption(synth):
    reply = synth.speechlike(1.5, seed=4)
    post = np.zeros(6 * SR)
    post[3 * SR : 3 * SR + len(reply) // 2] = reply[: len(reply) // 2]  # stopped half way
    pre = np.concatenate([np.zeros(4800), reply, np.zeros(4800)])
    turn = _turn(synth, 0, 1.0, 2.5, noisy=True)
    ev = ReplyEvents(0, synth.t_of(3 * SR - 480), synth.t_of(3 * SR + len(reply) // 2), False)
    row = _row(synth, post, [turn], [ev], pre_rtc=pre, pre_rtc_replies={0: (0, len(pre))})
    assert row.turns[0].get(M.FALSE_INTERRUPTION) == 1  # audio ended ~750 ms before pre_rtc's
    flagged = _row(
        synth, post, [turn], [ReplyEvents(0, ev.start_recv_t_ns, ev.end_recv_t_ns, True)]
    )
    assert flagged.turns[0].get(M.FALSE_INTERRUPTION) == 1  # the agent said it was interrupted
    whole = np.zeros(6 * SR)
    whole[3 * SR : 3 * SR + len(reply)] = reply
    ev_whole = ReplyEvents(0, ev.start_recv_t_ns, synth.t_of(3 * SR + len(reply)), False)
    clean = _row(synth, whole, [turn], [ev_whole], pre_rtc=pre, pre_rtc_replies={0: (0, len(pre))})
    assert clean.turns[0].get(M.FALSE_INTERRUPTION) == 0
    quiet = _row(synth, whole, [_turn(synth, 0, 1.0, 2.5)], [ev_whole])
    assert quiet.turns[0].get(M.FALSE_INTERRUPTION) is None  # not a noise turn


def test_a_reply_without_reply_end_is_reply_incomplete(synth):
    post = _agent(synth, 6, (3.0, 4.0))
    replies = [ReplyEvents(0, synth.t_of(3.0 * SR - 480), None, None)]
    row = _row(synth, post, [_turn(synth, 0, 1.0, 2.5)], replies)
    assert row.capture_status == "REPLY_INCOMPLETE"
    assert row.status_reason is not None
    assert "#0" in row.status_reason
    assert row.get(M.EOT_TO_FIRST_AUDIO) == pytest.approx(500.0, abs=1.0)
    blackbox = _row(synth, post, [_turn(synth, 0, 1.0, 2.5)], replies, blackbox=True)
    assert blackbox.capture_status == "NO_REPLY_EVENTS"


def test_a_framed_reply_that_talks_over_the_caller_is_captured_ok_and_judged_by_ring3(synth):
    # the agent frames a reply (events + pre_rtc) that starts 1 s before the EoT: the
    # capture is whole (OK, not PRE_MISSING); the turn is a false endpoint with no latency
    reply = synth.tone(2 * SR)
    post = np.zeros(SR * 8)
    onset = 3 * SR
    post[onset : onset + len(reply)] = reply
    pre = np.concatenate([np.zeros(4800), reply, np.zeros(4800)])
    ev = ReplyEvents(0, synth.t_of(onset - 480), synth.t_of(onset + len(reply)), False)
    row = _row(
        synth,
        post,
        [_turn(synth, 0, 1.0, 4.0)],
        replies=[ev],
        pre_rtc=pre,
        pre_rtc_replies={0: (0, len(pre))},
    )
    assert row.capture_status == "OK"
    t = row.turns[0]
    assert t.get(M.FALSE_ENDPOINT) == 1
    assert t.get(M.EARLY_REPLY) == pytest.approx(1000.0, abs=M.EARLY_REPLY.tolerance)
    assert t.get(M.EOT_TO_FIRST_AUDIO) is None
    assert t.get(M.OVERLAP) == pytest.approx(1000.0, abs=M.OVERLAP.tolerance)
