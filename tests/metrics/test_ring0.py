import numpy as np
import pytest

from autortc.metrics import ring0

SR = 48_000
SPF = 480


def noise(n, amp=0.2, seed=0):
    return amp * np.random.default_rng(seed).uniform(-1, 1, n)


def r0(post, pre=None, recv=None):
    recv = (
        recv if recv is not None else np.arange(-(-len(post) // SPF), dtype=np.int64) * 10_000_000
    )
    return ring0.compute_ring0(
        post,
        sample_rate_hz=SR,
        recv_t_ns=recv,
        start_sample=0,
        end_sample=len(post),
        pre_on_slice=pre,
    )


def test_post_rms_of_slice():
    x = np.full(SR, 0.1)
    assert r0(x).post_rms == pytest.approx(0.1, rel=1e-9)


@pytest.mark.parametrize("offset", [0, 123, 479])
def test_injected_120ms_gap_reads_120_plus_minus_10(offset):
    x = noise(SR * 2)
    g0 = SR // 2 + offset
    x[g0 : g0 + int(0.120 * SR)] = 0.0
    assert r0(x).max_gap_ms == pytest.approx(120, abs=10)


def test_leading_and_trailing_silence_is_not_a_gap():
    x = np.zeros(SR * 2)
    x[SR // 2 : SR] = noise(SR // 2)
    assert r0(x).max_gap_ms == 0


def test_no_audible_frame_gives_none_gap():
    assert r0(np.zeros(SR)).max_gap_ms is None


def test_added_gap_reports_only_the_gap_absent_from_pre():
    pre = noise(SR * 3)
    pre[SR // 2 : SR // 2 + int(0.200 * SR)] = 0.0  # natural 200 ms pause
    post = pre.copy()
    post[2 * SR : 2 * SR + int(0.080 * SR)] = 0.0  # network adds 80 ms
    res = r0(post, pre)
    assert res.max_gap_ms == pytest.approx(200, abs=10)
    assert res.added_gap_ms == pytest.approx(80, abs=10)
    assert res.added_gap_total_ms == pytest.approx(80, abs=10)


def test_gap_extending_a_natural_pause_counts_only_the_added_part():
    pre = noise(SR * 3)
    pre[SR : SR + int(0.200 * SR)] = 0.0
    post = pre.copy()
    post[SR + int(0.200 * SR) : SR + int(0.300 * SR)] = 0.0
    res = r0(post, pre)
    assert res.max_gap_ms == pytest.approx(300, abs=10)
    assert res.added_gap_ms == pytest.approx(100, abs=10)


def test_50ms_dropout_counts_one_and_identity_counts_zero():
    pre = noise(SR * 2)
    assert r0(pre.copy(), pre).audible_dropout == 0
    post = pre.copy()
    post[SR : SR + int(0.050 * SR)] = 0.0
    assert r0(post, pre).audible_dropout == 1


def test_dropout_by_20db_attenuation_and_single_frame_is_ignored():
    pre = noise(SR * 2)
    post = pre.copy()
    post[SR : SR + 5 * SPF] *= 0.05  # -26 dB for 50 ms, frame aligned
    post[SR // 2 : SR // 2 + SPF] = 0.0  # one frame only: not a dropout
    assert r0(post, pre).audible_dropout == 1
    post2 = pre.copy()
    post2[SR : SR + 5 * SPF] *= 0.2  # only -14 dB: not a dropout
    assert r0(post2, pre).audible_dropout == 0


def test_clipping_ratio_is_exact():
    x = noise(SR)
    x[:37] = 1.0
    x[100:113] = -0.9995
    assert r0(x).clipping_ratio == pytest.approx(50 / SR, abs=1e-12)


def test_inter_arrival_p95_on_a_known_jitter_pattern():
    x = noise(100 * SPF)
    diffs = np.full(99, 10.0)
    diffs[::10] = 40.0  # 10 of 99 diffs are 40 ms
    recv = np.concatenate([[0], np.cumsum(diffs)]) * 1e6
    expected = float(np.percentile(diffs, 95))
    assert r0(x, recv=recv.astype(np.int64)).inter_arrival_p95_ms == pytest.approx(
        expected, abs=1e-3
    )
    assert expected == pytest.approx(40.0)
