import numpy as np
import pytest

from autortc.metrics import levels, ring2
from autortc.metrics import registry as M
from autortc.metrics.attempt import analyze_attempt
from autortc.metrics.inputs import ReplyEvents, TracePoint, TurnTiming
from autortc.metrics.slicing import reply_slices

SR = 48_000
SPF = 480


def _latency(synth, post, *, eot_sample, replies, recv=None):
    """Turn 0's (eot_to_first_audio_ms, onset sample) as analyze_attempt measures them."""
    kw = {} if recv is None else {"recv": recv}
    row = analyze_attempt(synth.make_inputs(post, eot_sample=eot_sample, replies=replies, **kw))
    return row.get(M.EOT_TO_FIRST_AUDIO), row.get(M.ONSET_SAMPLE)


@pytest.mark.parametrize("onset", [SR * 2, SR * 2 + 1, SR * 2 + 250, SR * 2 + 477])
def test_eot_to_first_audio_exact_within_0_1_ms(synth, onset):
    post = np.zeros(SR * 4)
    post[onset:] = synth.tone(len(post) - onset, freq_hz=1000.0, amp=0.3)
    eot = SR + 1234
    ev = ReplyEvents(0, synth.t_of(onset - 2000), synth.t_of(len(post) - 10), False)
    lat, got = _latency(synth, post, eot_sample=eot, replies=[ev])
    assert lat == pytest.approx((onset - eot) * 1000 / SR, abs=0.1)
    assert got is not None
    assert abs(got - onset) <= 3


def test_eot_to_first_audio_quiet_onset_late_in_frame_is_found_in_previous_frame(synth):
    # RMS 0.0141 tone starting 20 samples before a frame end: that frame is not audible,
    # the next one is. The 0.01 floor delays the crossing by asin(0.5) -> 4-5 samples at
    # 1 kHz, so the tolerance here is 0.15 ms (not 10 ms, the frame quantisation).
    onset = SR * 2 + SPF - 20
    post = np.zeros(SR * 3)
    post[onset:] = synth.tone(len(post) - onset, amp=0.02)
    lat, _ = _latency(synth, post, eot_sample=SR, replies=[])
    assert lat == pytest.approx((onset - SR) * 1000 / SR, abs=0.15)


def test_eot_to_first_audio_uses_receive_times_not_sample_positions(synth):
    # the probe got every frame 25 ms late (queueing): latency grows by exactly 25 ms
    post = np.zeros(SR * 3)
    onset = SR * 2 + 100
    post[onset:] = synth.tone(len(post) - onset)
    recv = synth.recv_grid(len(post)) + 25_000_000
    lat, _ = _latency(synth, post, eot_sample=SR, replies=[], recv=recv)
    assert lat == pytest.approx((onset - SR) * 1000 / SR + 25.0, abs=0.1)


def test_reply_start_event_skips_earlier_audio(synth):
    # welcome-like audio right after EoT, then the reply: events select the reply
    post = np.zeros(SR * 4)
    post[int(1.2 * SR) : int(1.4 * SR)] = synth.tone(int(0.2 * SR))
    onset = SR * 3
    post[onset:] = synth.tone(len(post) - onset)
    ev = ReplyEvents(0, synth.t_of(onset - 960), synth.t_of(len(post) - 1), False)
    lat, _ = _latency(synth, post, eot_sample=SR, replies=[ev])
    assert lat == pytest.approx(2000.0, abs=0.1)


def test_trace_latencies_per_turn(synth):
    pts = {
        "user_eot": 1_000_000,
        "llm_request": 5_000_000,
        "llm_first_token": 65_000_000,
        "tts_first_audio": 200_000_000,
        "output_first_frame": 218_000_000,
        "first_frame_published": 230_000_000,
    }
    trace = [TracePoint(7, p, t) for p, t in pts.items()]
    by_turn = ring2.trace_by_turn(trace, [TurnTiming(0, 0, 0)])
    lat = ring2.trace_latencies(by_turn[0])
    assert lat == ring2.TraceLatencies(
        agent_eot_to_first_audio_ms=229.0,
        tts_first_to_publish_ms=30.0,
        output_wait_ms=12.0,
        fast_lane_ttft_ms=60.0,
    )
    assert ring2.trace_latencies({}).fast_lane_ttft_ms is None


def _barge_case(synth, *, with_events):
    post = np.zeros(SR * 6)
    r0_on, stop = SR * 1, SR * 3 + 200  # interrupted reply plays [1 s, 3 s + 200)
    post[r0_on:stop] = synth.tone(stop - r0_on)
    r1_on = SR * 4
    post[r1_on : SR * 5] = synth.tone(SR)
    barge_start = SR * 2 + 4800  # user barge-in leaves the bot at 2.1 s
    turns = [
        TurnTiming(0, synth.t_of(0), synth.t_of(SR // 2)),
        TurnTiming(1, synth.t_of(barge_start), synth.t_of(barge_start + SR // 2), is_barge_in=True),
    ]
    replies = []
    if with_events:
        replies = [
            ReplyEvents(0, synth.t_of(r0_on - 100), synth.t_of(stop + 1000), True),
            ReplyEvents(1, synth.t_of(r1_on - 100), synth.t_of(SR * 5), False),
        ]
    recv = synth.recv_grid(len(post))
    slices, _ = reply_slices(post, recv, replies=replies, turns=turns, sample_rate_hz=SR)
    got = ring2.barge_in_stop_ms(
        post,
        recv,
        rms_frames=levels.frame_rms(post, SR),
        barge_in=turns[1],
        interrupted=slices[0] if with_events else None,
        next_reply_start_sample=slices[1].start_sample if with_events else None,
        sample_rate_hz=SR,
    )
    return got, (stop - 1 - barge_start) * 1000 / SR


@pytest.mark.parametrize("with_events", [True, False])
def test_barge_in_stop_ms_from_barge_start_to_last_audible_sample(synth, with_events):
    got, expected = _barge_case(synth, with_events=with_events)
    assert got == pytest.approx(expected, abs=0.1)


@pytest.mark.parametrize("offset_samples", [0, 1, 479, 5 * 480 + 123])
def test_hop_budget_known_answer_a_frame_25_ms_in_transit_reads_25_ms(offset_samples):
    sr = 48_000
    eot_left = 1_000_000_000
    user_eot = eot_left + 400_000_000  # endpointing 400 ms
    published = user_eot + 60_000_000  # the reply's first frame handed over 60 ms later
    k, j = divmod(offset_samples, 480)
    # each frame arrives 25 ms after it was handed over (frames handed at 10 ms pace);
    # the probe's convention: sample j of a frame lies (479 - j) samples before its arrival
    arrival = published + k * 10_000_000 + 25_000_000
    onset = arrival - (479 - j) * 1e9 / sr
    hops = ring2.hop_budget(
        {"user_eot": user_eot, "first_frame_published": published},
        eot_left_t_ns=eot_left,
        onset_t_ns=onset,
        first_audible_offset_s=offset_samples / sr,
        frame_s=0.01,
        sample_s=1 / sr,
    )
    assert hops.endpointing_ms == pytest.approx(400.0)
    assert hops.agent_to_probe_ms == pytest.approx(25.0, abs=1e-6)
    assert hops.agent_processing_ms == pytest.approx(60.0 + k * 10.0 + j / 48 - 479 / 48)
    total = hops.endpointing_ms + hops.agent_processing_ms + hops.agent_to_probe_ms
    assert total == pytest.approx((onset - eot_left) / 1e6)


def test_hop_budget_without_the_agent_points_is_none():
    assert ring2.hop_budget({}, eot_left_t_ns=0, onset_t_ns=1.0, first_audible_offset_s=0.0) == (
        ring2.NO_HOPS
    )
    part = ring2.hop_budget(
        {"user_eot": 5_000_000}, eot_left_t_ns=0, onset_t_ns=None, first_audible_offset_s=None
    )
    assert (part.endpointing_ms, part.agent_processing_ms, part.agent_to_probe_ms) == (
        5.0,
        None,
        None,
    )


def test_an_agent_that_decided_before_the_eot_has_no_hop_budget_never_a_negative_one():
    hops = ring2.hop_budget(
        {"user_eot": 100_000_000, "first_frame_published": 150_000_000},
        eot_left_t_ns=975_000_000,  # the caller finished 875 ms after the agent decided
        onset_t_ns=1_200_000_000.0,
        first_audible_offset_s=0.0,
    )
    assert hops == ring2.NO_HOPS


def test_a_reply_handed_within_a_frame_of_the_decision_has_no_negative_processing_hop():
    # a starter-cache hit: the first frame went out 9 ms after user_eot; the per-sample
    # convention dates its first sample 9.98 ms before that hand-over (a fresh-clone
    # stability run read agent_processing_ms = -1.026)
    hops = ring2.hop_budget(
        {"user_eot": 500_000_000, "first_frame_published": 509_000_000},
        eot_left_t_ns=100_000_000,
        onset_t_ns=600_000_000.0,
        first_audible_offset_s=0.0,
    )
    assert (hops.endpointing_ms, hops.agent_processing_ms, hops.agent_to_probe_ms) == (
        400.0,
        None,
        None,
    )
    assert hops.withheld is not None
    assert "dated 1.0 ms before the decision" in hops.withheld
    later = ring2.hop_budget(
        {"user_eot": 500_000_000, "first_frame_published": 511_000_000},
        eot_left_t_ns=100_000_000,
        onset_t_ns=600_000_000.0,
        first_audible_offset_s=0.0,
    )
    assert later.agent_processing_ms is not None
    assert later.agent_processing_ms >= 0
    assert later.withheld is None


def test_a_frame_stamped_before_its_hand_over_leaves_the_split_unknown():
    hops = ring2.hop_budget(
        {"user_eot": 500_000_000, "first_frame_published": 600_000_000},
        eot_left_t_ns=100_000_000,
        onset_t_ns=550_000_000.0,  # "arrived" before it was handed over
        first_audible_offset_s=0.0,
    )
    assert (hops.endpointing_ms, hops.agent_processing_ms, hops.agent_to_probe_ms) == (
        400.0,
        None,
        None,
    )
    assert hops.withheld is not None
    assert "arrive 40.0 ms before it was handed over" in hops.withheld


def test_the_eots_arrival_at_the_agent_splits_off_the_inbound_hop():
    eot_left = 1_000_000_000
    points = {"user_eot": eot_left + 400_000_000, "first_frame_published": eot_left + 460_000_000}
    onset = float(eot_left + 460_000_000 + 25_000_000 - 479 * 1e9 / 48_000)
    kw = {"eot_left_t_ns": eot_left, "onset_t_ns": onset, "first_audible_offset_s": 0.0}
    hops = ring2.hop_budget(points, eot_arrived_t_ns=eot_left + 18_000_000, **kw)
    assert hops.user_to_agent_ms == pytest.approx(18.0)
    assert hops.endpointing_ms == pytest.approx(382.0)
    parts = (hops.user_to_agent_ms, hops.endpointing_ms)
    parts += (hops.agent_processing_ms, hops.agent_to_probe_ms)
    assert sum(p for p in parts if p is not None) == pytest.approx((onset - eot_left) / 1e6)
    # an arrival before the EoT left, or after the agent's decision, is no consistent
    # split: the inbound hop stays unknown and endpointing runs from the EoT leaving
    for bad in (eot_left - 1_000_000, eot_left + 401_000_000):
        odd = ring2.hop_budget(points, eot_arrived_t_ns=bad, **kw)
        assert odd.user_to_agent_ms is None
        assert odd.endpointing_ms == pytest.approx(400.0)


def test_a_turns_withheld_split_says_why_in_its_row_and_reads_back():
    from autortc.metrics.rows import TurnRow

    row = TurnRow(turn_index=1, is_barge_in=True, reply_seq=1, hop_note="split withheld: x")
    body = row.to_dict()
    assert body["hop_note"] == "split withheld: x"
    assert TurnRow.from_dict(body).hop_note == "split withheld: x"
    assert "hop_note" not in TurnRow(turn_index=0, is_barge_in=False, reply_seq=0).to_dict()
