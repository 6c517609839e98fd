import json
from dataclasses import replace

import numpy as np
import pytest

from autortc.metrics.attempt import analyze_attempt, reply_slice_audio
from autortc.metrics.inputs import ReplyEvents, TracePoint, TurnTiming
from autortc.metrics.slicing import HEAD_MS

SR = 48_000


def _case(synth, **kw):
    """Reply (speech-like, 1.5 s) at 3.0 s in a 6 s probe recording; EoT at 2.4 s."""
    reply = synth.speechlike(1.5, seed=3)
    post = np.zeros(SR * 6)
    onset = 3 * SR
    post[onset : onset + len(reply)] = reply
    pre = np.concatenate([np.zeros(4800), reply, np.zeros(4800)])
    ev = ReplyEvents(0, synth.t_of(onset - 480), synth.t_of(onset + len(reply)), False)
    trace = [
        TracePoint(0, p, t)
        for p, t in (
            ("user_eot", 0),
            ("llm_request", 10**7),
            ("llm_first_token", 7 * 10**7),
            ("tts_first_audio", 3 * 10**8),
            ("first_frame_published", 3.2 * 10**8),
        )
    ]
    args = dict(
        eot_sample=int(2.4 * SR),
        replies=[ev],
        pre_rtc=pre,
        pre_rtc_replies={0: (0, len(pre))},
        trace=trace,
    )
    args.update(kw)
    return synth.make_inputs(post, **args), onset, reply


def test_full_attempt_is_ok_and_figures_are_right(synth):
    inputs, onset, reply = _case(synth)
    m = analyze_attempt(inputs)
    d = m.to_dict()
    json.dumps(d)  # JSON-able
    assert d["capture_status"] == "OK"
    assert d["slice_source"] == "events"
    assert d["audio_valid"] is True
    first_nz = onset + int(np.flatnonzero(np.abs(reply) >= 0.01)[0])
    # a speech-like ramp: the refined onset (0.25 x frame peak) may trail the first 0.01 sample
    assert d["eot_to_first_audio_ms"] == pytest.approx((first_nz - 2.4 * SR) * 1000 / SR, abs=5.0)
    assert d["agent_eot_to_first_audio_ms"] == pytest.approx(320.0)
    assert d["tts_first_to_publish_ms"] == pytest.approx(20.0)
    assert d["fast_lane_ttft_ms"] == pytest.approx(60.0)
    head = HEAD_MS * SR // 1000  # the event slice starts 100 ms before reply_start
    assert d["align_lag_ms"] == pytest.approx((480 + head - 4800) * 1000 / SR, abs=1000 / SR)
    assert d["added_gap_ms"] == 0
    assert d["audible_dropout"] == 0
    assert d["mel_distance"] == pytest.approx(0.0, abs=0.5)
    assert d["hf_ratio_drop"] == pytest.approx(0.0, abs=0.02)
    assert d["drift_ratio"] == pytest.approx(1.0, abs=0.002)
    assert len(d["replies"]) == 1
    assert d["replies"][0]["reply_seq"] == 0
    assert d["turns"][0]["eot_to_first_audio_ms"] == d["eot_to_first_audio_ms"]
    for k, v in d.items():
        if v is None:
            assert k in d["null_reasons"], k
    audio = reply_slice_audio(inputs, m)
    assert audio is not None
    assert len(audio) == d["reply_end_sample"] - d["reply_start_sample"]


def test_black_box_attempt_slices_by_energy_and_explains_nulls(synth):
    inputs, onset, _ = _case(synth, replies=[], pre_rtc=None, pre_rtc_replies=None, trace=[])
    d = analyze_attempt(inputs).to_dict()
    assert d["capture_status"] == "NO_REPLY_EVENTS"
    assert d["slice_source"] == "energy"
    assert d["reply_start_sample"] <= onset
    assert d["eot_to_first_audio_ms"] is not None
    assert d["mel_distance"] is None
    assert "NO_REPLY_EVENTS" in d["null_reasons"]["mel_distance"]
    assert d["fast_lane_ttft_ms"] is None
    assert d["null_reasons"]["fast_lane_ttft_ms"] == "no agent trace (black-box)"
    for k, v in d.items():
        if v is None:
            assert k in d["null_reasons"], k


def test_pre_missing_keeps_ring0_but_nulls_ring1(synth):
    inputs, _, _ = _case(synth, pre_rtc=None, pre_rtc_replies=None)
    d = analyze_attempt(inputs).to_dict()
    assert d["capture_status"] == "PRE_MISSING"
    assert d["max_gap_ms"] is not None
    assert d["mel_distance"] is None
    assert d["added_gap_ms"] is None
    assert d["null_reasons"]["added_gap_ms"] == "pre_rtc missing"


def test_silent_probe_is_post_silent_and_retried(synth):
    inputs = synth.make_inputs(np.zeros(SR * 5), eot_sample=SR)
    d = analyze_attempt(inputs).to_dict()
    assert d["capture_status"] == "POST_SILENT"
    assert d["audio_valid"] is False
    assert d["retry"] is True
    assert d["eot_to_first_audio_ms"] is None
    assert "eot_to_first_audio_ms" in d["null_reasons"]


def test_infra_status_wins_and_ring1_is_null(synth):
    inputs, _, _ = _case(synth, infra_status="BARRIER_TIMEOUT")
    d = analyze_attempt(inputs).to_dict()
    assert d["capture_status"] == "BARRIER_TIMEOUT"
    assert d["mel_distance"] is None
    assert d["retry"] is True


def test_late_reply_events_leave_the_audio_unframed_but_valid(synth):
    # reply_start arrives after the audio ended: that event slice is silent; the speech
    # no event frames is sliced by energy (NO_REPLY_EVENTS) and answers the turn
    inputs, onset, _reply = _case(synth)
    late = ReplyEvents(0, synth.t_of(5.0 * SR), synth.t_of(5.5 * SR), False)
    d = analyze_attempt(
        synth.make_inputs(inputs.post_full, eot_sample=int(2.4 * SR), replies=[late])
    ).to_dict()
    assert d["audio_valid"] is True
    assert d["capture_status"] == "NO_REPLY_EVENTS"
    assert d["slice_source"] == "energy"
    assert d["reply_start_sample"] <= onset
    late_slice = next(r for r in d["replies"] if r["reply_seq"] == 0)
    assert late_slice["post_rms"] < 0.01


def test_multi_turn_and_welcome_are_matched_to_turns(synth):
    post = np.zeros(SR * 10)
    seg = synth.tone(SR // 2)
    post[0 : SR // 2] = seg  # welcome, before the user speaks
    post[3 * SR : 3 * SR + SR // 2] = seg  # reply to turn 0
    post[7 * SR : 7 * SR + SR // 2] = seg  # reply to turn 1
    replies = [
        ReplyEvents(i, synth.t_of(s - 480), synth.t_of(s + SR // 2), False)
        for i, s in enumerate((0 + 480, 3 * SR, 7 * SR))
    ]
    turns = [
        TurnTiming(0, synth.t_of(SR), synth.t_of(2 * SR)),
        TurnTiming(1, synth.t_of(5 * SR), synth.t_of(6 * SR)),
    ]
    d = analyze_attempt(
        synth.make_inputs(post, eot_sample=0, replies=replies, turns=turns)
    ).to_dict()
    assert [r["reply_seq"] for r in d["replies"]] == [0, 1, 2]  # the welcome is a reply too
    assert [t["reply_seq"] for t in d["turns"]] == [1, 2]  # but it answers no turn
    assert [t["false_endpoint"] for t in d["turns"]] == [0, 0]
    assert d["turns"][0]["eot_to_first_audio_ms"] == pytest.approx(1000.0, abs=0.1)
    assert d["turns"][1]["eot_to_first_audio_ms"] == pytest.approx(1000.0, abs=0.1)


def test_analyze_attempt_is_fast(synth):
    import time

    inputs, _, _ = _case(synth)
    t = time.perf_counter()
    analyze_attempt(inputs)
    assert time.perf_counter() - t < 1.0


def test_the_trace_is_the_one_of_the_agent_turn_its_answer_names(synth):
    """An agent that counted a mid-utterance pause as a turn of its own: its reply_start
    says the answer belongs to its turn 1, and the trace figures come from there."""
    early = [TracePoint(0, "user_speech_start", 0)]  # the agent's turn 0: before the pause
    later = [
        TracePoint(1, p, t)
        for p, t in (
            ("user_speech_start", 10**8),
            ("user_eot", 2 * 10**8),
            ("tts_first_audio", 4 * 10**8),
            ("first_frame_published", 4.3 * 10**8),
        )
    ]
    inputs, _, _ = _case(synth, trace=early + later)
    ev = inputs.replies[0]
    named = ReplyEvents(ev.reply_seq, ev.start_recv_t_ns, ev.end_recv_t_ns, False, turn_id=1)
    d = analyze_attempt(replace(inputs, replies=[named])).to_dict()
    assert d["agent_eot_to_first_audio_ms"] == pytest.approx(230.0)
    assert d["tts_first_to_publish_ms"] == pytest.approx(30.0)
    # without the turn named, the agent's turns are taken in order: turn 0 has no answer
    unnamed = analyze_attempt(inputs).to_dict()
    assert unnamed["agent_eot_to_first_audio_ms"] is None
