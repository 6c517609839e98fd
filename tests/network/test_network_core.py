"""The network core on synthetic packet streams with known answers: profiles, seeded
packet fates, the jitter buffer's playout, concealment and RFC 3550 jitter."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from autortc.errors import InputError
from autortc.network.jitter_buffer import JitterBuffer
from autortc.network.link import LinkModel, fates
from autortc.network.profiles import LinkProfile, load_profiles, profile_named

N = 20_000


def test_the_shipped_profiles_load_and_clean_is_clean() -> None:
    profiles = load_profiles()
    assert {"clean", "wifi", "lossy_5", "lossy_20", "jitter_80", "mobile_4g"} <= set(profiles)
    assert profiles["clean"].uplink.is_clean
    assert profiles["clean"].downlink.is_clean
    assert profiles["lossy_20"].downlink.mean_loss == pytest.approx(0.20, abs=0.002)
    assert profiles["lossy_5"].downlink.mean_loss == pytest.approx(0.05, abs=0.002)


def test_a_bad_profile_file_names_the_file_and_the_field(tmp_path: Path) -> None:
    bad = tmp_path / "net.yaml"
    bad.write_text("mine:\n  downlink: {loss_model: random, loss_pct: 140}\n")
    with pytest.raises(InputError, match=r"net\.yaml: field 'mine\.downlink\.loss_pct'"):
        load_profiles(bad)
    with pytest.raises(InputError, match=r"no network profile .nope.*clean"):
        profile_named("nope")
    bad.write_text("x: {uplink: {loss_pct: 3}}\n")
    with pytest.raises(InputError, match="loss_pct is only used with loss_model: random"):
        load_profiles(bad)


def test_a_clean_link_delivers_every_packet_at_its_fixed_delay() -> None:
    fs = fates(LinkProfile(one_way_delay_ms=40), seed=1, n=100)
    assert not any(f.lost for f in fs)
    assert {f.delay_ms for f in fs} == {40.0}


def test_random_loss_and_gilbert_loss_hit_their_rates_and_gilbert_is_bursty() -> None:
    rnd = fates(LinkProfile(loss_model="random", loss_pct=20), seed=3, n=N)
    ge = LinkProfile(loss_model="gilbert", p_good_to_bad=0.0833, p_bad_to_good=1 / 3)
    gil = fates(ge, seed=3, n=N)
    assert np.mean([f.lost for f in rnd]) == pytest.approx(0.20, abs=0.01)
    assert np.mean([f.lost for f in gil]) == pytest.approx(ge.mean_loss, abs=0.015)

    def mean_burst(fs: list) -> float:
        runs, run = [], 0
        for f in fs:
            if f.lost:
                run += 1
            elif run:
                runs.append(run)
                run = 0
        return float(np.mean(runs))

    assert mean_burst(rnd) == pytest.approx(1 / 0.8, abs=0.05)  # geometric: 1 / (1 - p)
    assert mean_burst(gil) == pytest.approx(3.0, abs=0.2)  # 1 / p_bad_to_good


@pytest.mark.parametrize("dist", ["exponential", "uniform", "pareto"])
def test_jitter_has_its_mean_and_is_never_negative(dist: str) -> None:
    fs = fates(LinkProfile(one_way_delay_ms=10, jitter_ms=30, jitter_dist=dist), seed=5, n=N)
    extra = np.array([f.delay_ms - 10 for f in fs])
    assert extra.min() >= 0
    assert extra.mean() == pytest.approx(30, rel=0.08)
    if dist == "uniform":
        assert extra.max() <= 60


def test_the_same_seed_gives_the_same_fates_and_another_seed_others() -> None:
    p = load_profiles()["mobile_4g"].downlink
    assert fates(p, seed=9, n=500) == fates(p, seed=9, n=500)
    assert fates(p, seed=9, n=500) != fates(p, seed=10, n=500)


def test_a_loss_rate_change_moves_no_delivered_packets_delay() -> None:
    a = fates(LinkProfile(jitter_ms=20, loss_model="random", loss_pct=1), seed=4, n=300)
    b = fates(LinkProfile(jitter_ms=20, loss_model="random", loss_pct=30), seed=4, n=300)
    both = [
        (x.delay_ms, y.delay_ms) for x, y in zip(a, b, strict=True) if not x.lost and not y.lost
    ]
    assert len(both) > 150
    assert all(x == y for x, y in both)


def test_a_skipped_packet_draws_its_fate_unseen_and_none_is_asked_twice() -> None:
    p = load_profiles()["lossy_20"].downlink
    model = LinkModel(p, seed=0)
    model.fate(0)
    assert model.fate(7) == fates(p, seed=0, n=8)[7]
    assert model.next_seq == 8
    with pytest.raises(ValueError, match="again"):
        model.fate(3)


def _run_buffer(
    fs: list, *, playout_delay_ms: float, frame_ms: float = 20.0
) -> tuple[JitterBuffer[int], list]:
    """Packets sent every frame_ms from t=0, arriving at send + delay; pop at every ms."""
    jb: JitterBuffer[int] = JitterBuffer(playout_delay_ms=playout_delay_ms, frame_ms=frame_ms)
    arrivals = sorted((f.seq * frame_ms + f.delay_ms, f.seq) for f in fs if not f.lost)
    out: list = []
    k = 0
    end = len(fs) * frame_ms + 2000
    for now in np.arange(0, end, 1.0):
        while k < len(arrivals) and arrivals[k][0] <= now:
            t, seq = arrivals[k]
            jb.push(seq, seq, send_t_ms=seq * frame_ms, arrival_t_ms=t)
            k += 1
        out.extend(jb.pop(float(now)))
    return jb, out


def test_a_clean_stream_plays_every_frame_in_order_after_the_playout_delay() -> None:
    fs = fates(LinkProfile(one_way_delay_ms=30), seed=0, n=200)
    jb, out = _run_buffer(fs, playout_delay_ms=60)
    assert [p for _, p in out[:200]] == list(range(200))
    s = jb.stats()
    assert (s.played, s.concealed_frames, s.conceal_events, s.late) == (200, 0, 0, 0)
    assert s.packet_jitter_ms == 0.0
    assert s.buffer_delay_ms == pytest.approx(60.0)


def test_lost_packets_are_concealed_in_runs_counted_as_events() -> None:
    lost = {10, 11, 12, 50, 90, 91}
    fs = [
        f if f.seq not in lost else type(f)(f.seq, True, 0.0)
        for f in fates(LinkProfile(), seed=0, n=120)
    ]
    jb, out = _run_buffer(fs, playout_delay_ms=40)
    assert [s for s, p in out[:120] if p is None] == sorted(lost)
    s = jb.stats()
    assert (s.concealed_frames, s.conceal_events, s.played) == (6, 3, 114)


def test_jitter_beyond_the_playout_delay_makes_late_packets_and_raises_rfc3550_jitter() -> None:
    calm = fates(
        LinkProfile(one_way_delay_ms=20, jitter_ms=2, jitter_dist="uniform"), seed=2, n=1000
    )
    rough = fates(
        LinkProfile(one_way_delay_ms=20, jitter_ms=40, jitter_dist="uniform"), seed=2, n=1000
    )
    jc, _ = _run_buffer(calm, playout_delay_ms=60)
    jr, out = _run_buffer(rough, playout_delay_ms=30)
    assert jc.stats().late == 0
    assert jc.stats().concealed_frames == 0
    assert jr.stats().late > 0
    assert jr.stats().concealed_frames > 0
    # uniform jitter on [0, 2a]: E|D| for the difference of two such draws is 2a/3
    assert jr.stats().packet_jitter_ms == pytest.approx(80 / 3, rel=0.25)
    assert jc.stats().packet_jitter_ms == pytest.approx(4 / 3, rel=0.25)
    seqs = [s for s, _ in out]
    assert seqs == sorted(seqs)  # playout is always in sequence order, reordering undone


def test_a_paused_sender_is_not_counted_as_concealment_and_the_next_packet_reanchors() -> None:
    jb: JitterBuffer[int] = JitterBuffer(playout_delay_ms=40, max_conceal_frames=5)
    for seq in range(10):
        jb.push(seq, seq, send_t_ms=seq * 20, arrival_t_ms=seq * 20 + 5)
    out = jb.pop(1000)
    assert [p for _, p in out[:10]] == list(range(10))
    assert jb.next_due_ms() is None  # idle
    assert jb.stats().concealed_frames == 0
    assert jb.stats().conceal_events == 0
    jb.push(100, 100, send_t_ms=2000, arrival_t_ms=2005)
    assert jb.next_due_ms() == pytest.approx(2045)
    assert jb.pop(2045) == [(100, 100)]


def test_missing_frames_at_the_end_of_a_track_are_not_counted_as_concealment() -> None:
    jb: JitterBuffer[int] = JitterBuffer(playout_delay_ms=40)
    for seq in (0, 1, 3):
        jb.push(seq, seq, send_t_ms=seq * 20, arrival_t_ms=seq * 20 + 5)
    out = jb.pop(45 + 5 * 20)  # frames 0..5 due: 2 is lost, 4 and 5 never come
    assert [p for _, p in out] == [0, 1, None, 3, None, None]
    s = jb.stats()
    assert (s.concealed_frames, s.conceal_events) == (1, 1)  # only the run that 3 ended


def test_a_sender_stall_delays_the_audio_and_inserts_a_gap_but_loses_nothing() -> None:
    """From packet 10 on, everything leaves 120 ms late (the sender stalled): the 40 ms
    playout delay absorbs 40 of them, so 4 frames (80 ms) are concealed, then packet 10
    and the rest play, 80 ms later than planned; nothing is lost."""
    jb: JitterBuffer[int] = JitterBuffer(playout_delay_ms=40)
    played: list[int | None] = []
    arrivals = {seq: seq * 20.0 + (120.0 if seq >= 10 else 0.0) + 2 for seq in range(30)}
    for now in range(0, 1200):
        for seq, t in arrivals.items():
            if now - 1 < t <= now:
                jb.push(seq, seq, send_t_ms=t - 2, arrival_t_ms=t)
        played += [p for _, p in jb.pop(float(now))]
    assert [p for p in played if p is not None] == list(range(30))
    last = max(i for i, p in enumerate(played) if p is not None)
    assert played[:last].count(None) == 4  # after the track's end: not a concealment
    s = jb.stats()
    assert (s.late, s.stretches, s.conceal_events, s.concealed_frames) == (0, 1, 1, 4)
    assert s.buffer_delay_ms is not None
    assert s.buffer_delay_ms < 40  # the stall ate into the buffer: what was due waited less


def test_duplicates_are_dropped() -> None:
    jb: JitterBuffer[str] = JitterBuffer(playout_delay_ms=20)
    jb.push(0, "a", send_t_ms=0, arrival_t_ms=1)
    jb.push(0, "b", send_t_ms=0, arrival_t_ms=2)
    assert jb.pop(100)[0] == (0, "a")
    assert jb.stats().duplicates == 1


def test_a_stall_the_sender_marks_as_a_new_talk_spurt_is_its_silence_not_a_concealment() -> None:
    """The same stall as above, but the sender says packet 10 starts a talk spurt (it
    fell behind its own timeline): the 4 frames played meanwhile are its pause, so no
    concealment is counted; the audio is delayed just the same and nothing is lost."""
    jb: JitterBuffer[int] = JitterBuffer(playout_delay_ms=40)
    played: list[int | None] = []
    arrivals = {seq: seq * 20.0 + (120.0 if seq >= 10 else 0.0) + 2 for seq in range(30)}
    for now in range(0, 1200):
        for seq, t in arrivals.items():
            if now - 1 < t <= now:
                jb.push(seq, seq, send_t_ms=t - 2, arrival_t_ms=t, spurt_start=seq == 10)
        played += [p for _, p in jb.pop(float(now))]
    assert [p for p in played if p is not None] == list(range(30))
    s = jb.stats()
    assert (s.late, s.stretches, s.conceal_events, s.concealed_frames) == (0, 0, 0, 0)


def test_a_talk_spurt_plays_exactly_the_playout_delay_after_it_arrived() -> None:
    """Packets 0-9 arrive 2 ms after sending; packet 10 starts a spurt 30 ms late: it
    plays 40 ms after it arrived (the clock moves later); 11-18 follow on its grid, and
    packet 19 starts one 10 ms early: again 40 ms after it arrived (the clock moves
    earlier); the silent packets 17 and 18, still held, are dropped, not played and not
    counted as concealed."""
    jb: JitterBuffer[int] = JitterBuffer(playout_delay_ms=40)
    arrivals = [(seq * 20.0 + 2, seq) for seq in range(10)]
    arrivals += [(seq * 20.0 + 32, seq) for seq in range(10, 19)]
    arrivals += [(19 * 20.0 + 22, 19)]
    due: dict[int, float] = {}
    played: list[int] = []
    for now in range(0, 1000):
        for t, seq in arrivals:
            if now - 1 < t <= now:
                jb.push(seq, seq, send_t_ms=t - 2, arrival_t_ms=t, spurt_start=seq in (10, 19))
                due[seq] = jb.playout_t_ms(seq) or 0.0
        played += [s for s, p in jb.pop(float(now)) if p is not None]
    assert due[10] == pytest.approx(232 + 40)
    assert due[19] == pytest.approx(402 + 40)
    assert played == [*range(17), 19]
    assert [s for s, _ in jb.skipped] == [17, 18]
    s = jb.stats()
    assert (s.conceal_events, s.concealed_frames, s.late) == (0, 0, 0)


def test_a_resumed_packet_still_in_time_plays_on_its_slot_and_moves_nothing() -> None:
    """The sender stalled 25 ms before packet 10 (it says `resumed`): the 40 ms playout
    delay absorbs it, so the clock stays, nothing is concealed, and nothing moves."""
    jb: JitterBuffer[int] = JitterBuffer(playout_delay_ms=40)
    for seq in range(10):
        jb.push(seq, seq, send_t_ms=seq * 20, arrival_t_ms=seq * 20 + 2)
    due = jb.playout_t_ms(10)
    jb.push(10, 10, send_t_ms=225, arrival_t_ms=227, resumed=True)
    assert jb.playout_t_ms(10) == due
    played = [s for s, p in jb.pop(1000) if p is not None]
    assert played[:11] == list(range(11))
    s = jb.stats()
    assert (s.conceal_events, s.concealed_frames, s.stretches) == (0, 0, 0)


def test_a_spurt_is_anchored_on_the_networks_floor_not_on_its_first_packets_jitter() -> None:
    """Packets 0-4 cross in 10 ms (the floor). Packet 5 starts a spurt but met 50 ms of
    jitter: it plays at its send time + 10 + 40, i.e. at once on arrival, not 40 ms after
    it; packet 6 (10 ms transit) is then on time, and packet 7 (75 ms) is late."""
    jb: JitterBuffer[int] = JitterBuffer(playout_delay_ms=40)
    for seq in range(5):
        jb.push(seq, seq, send_t_ms=seq * 20, arrival_t_ms=seq * 20 + 10)
    jb.push(5, 5, send_t_ms=1000, arrival_t_ms=1050, spurt_start=True)
    assert jb.playout_t_ms(5) == pytest.approx(1050)  # max(arrival, 1000 + 10 + 40)
    jb.push(6, 6, send_t_ms=1020, arrival_t_ms=1030)
    assert jb.playout_t_ms(6) == pytest.approx(1070)
    out = jb.pop(1090)
    jb.push(7, 7, send_t_ms=1040, arrival_t_ms=1115)
    assert [s for s, p in out if p is not None][-2:] == [5, 6]
    assert jb.stats().late == 1 or jb.stats().stretches == 1
