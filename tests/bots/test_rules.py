"""The bots' pure rules: barrier, stop rule and EoT send-queue timing."""

from autortc.bots.rules import BarrierState, StopRule, eot_left_t_ns
from autortc.protocol import make_message

DEFAULTS = {
    "agent_ready": {"in_reply_to": "p0"},
    "utterance_end": {"turn_index": 0, "eot_t_ns": 0},
    "reply_start": {"reply_seq": 0},
    "reply_end": {"reply_seq": 0},
}


def _m(type_: str, **kw):
    return make_message(
        type_, trace_id="t", case_id="c", t_ns=0, **{**DEFAULTS.get(type_, {}), **kw}
    )


def test_barrier_needs_both_probe_ready_and_agent_ready():
    b = BarrierState()
    assert not b.observe(_m("probe_ready"), recv_t_ns=10)
    assert not b.complete
    assert b.observe(_m("agent_ready", in_reply_to="x"), recv_t_ns=20)
    assert b.complete_t_ns == 20
    assert b.agent_ready_in_reply_to == {"x"}


def test_barrier_agent_ready_alone_is_not_enough():
    b = BarrierState()
    assert not b.observe(_m("agent_ready", in_reply_to="x"), recv_t_ns=5)
    assert not b.complete


def test_blackbox_barrier_completes_on_probe_ready():
    b = BarrierState(blackbox=True)
    assert b.observe(_m("probe_ready"), recv_t_ns=7)


def test_stop_rule_waits_for_final_utterance_then_non_interrupted_reply_end():
    s = StopRule(n_turns=2, record_pad_ms=10_000, tail_ms=1_000)
    s.observe(_m("utterance_end"), recv_t_ns=1_000_000_000)
    assert s.deadline_ns() is None  # only 1 of 2 turns ended
    s.observe(_m("reply_start"), recv_t_ns=1_200_000_000)
    s.observe(_m("reply_end", interrupted=True), recv_t_ns=1_500_000_000)
    s.observe(_m("utterance_end"), recv_t_ns=2_000_000_000)
    assert s.deadline_ns() == 12_000_000_000  # the pad: no reply to the last turn yet
    s.observe(_m("reply_start", reply_seq=1), recv_t_ns=2_100_000_000)
    assert s.deadline_ns() == 5_100_000_000  # a reply is open: 3 s after it was last heard
    s.agent_audible(3_900_000_000)
    assert s.deadline_ns() == 6_900_000_000
    s.observe(_m("reply_end", reply_seq=1, interrupted=False), recv_t_ns=4_000_000_000)
    assert s.deadline_ns() == 5_000_000_000  # reply_end + tail


def test_a_reply_in_progress_outlives_the_pad_but_not_the_hard_deadline():
    s = StopRule(n_turns=1, record_pad_ms=1_000, tail_ms=1_000, hard_deadline_ns=60_000_000_000)
    s.observe(_m("utterance_end"), recv_t_ns=0)
    s.observe(_m("reply_start"), recv_t_ns=500_000_000)
    for t in range(1, 20):  # a 20 s reply, heard all along: it is never given up
        s.agent_audible(t * 1_000_000_000)
        assert s.deadline_ns() == t * 1_000_000_000 + 3_000_000_000
    s.observe(_m("reply_end"), recv_t_ns=20_000_000_000)
    assert s.deadline_ns() == 21_000_000_000  # its end + the tail, long past the 1 s pad
    s.observe(_m("reply_start", reply_seq=1), recv_t_ns=59_000_000_000)
    assert s.deadline_ns() == 60_000_000_000  # the hard deadline caps everything


def test_a_reply_that_never_ends_is_given_up_when_the_agent_falls_silent():
    s = StopRule(n_turns=1, record_pad_ms=10_000, tail_ms=1_000, hard_deadline_ns=55_000_000_000)
    s.observe(_m("utterance_end"), recv_t_ns=0)
    s.observe(_m("reply_start"), recv_t_ns=400_000_000)
    s.agent_audible(1_500_000_000)  # the agent spoke for a while, then went quiet
    assert s.deadline_ns() == 4_500_000_000  # not the 55 s budget


def test_eot_left_accounts_for_the_send_queue_and_the_offset_in_the_frame():
    # capture returned at t=1 s with 50 ms still queued (ending at the frame's end);
    # the EoT sample is 240 samples (5 ms at 48 kHz) before the frame's end.
    t = eot_left_t_ns(
        capture_return_t_ns=1_000_000_000,
        queued_after_s=0.050,
        frame_end_sample=4800,
        eot_sample=4560,
        sample_rate_hz=48_000,
    )
    assert t == 1_000_000_000 + 50_000_000 - 5_000_000
