import numpy as np
import pytest

from autortc.metrics import align

SR = 48_000


def speechy(n, seed=1):
    rng = np.random.default_rng(seed)
    env = np.abs(np.sin(2 * np.pi * 3 * np.arange(n) / SR))
    return 0.3 * env * rng.standard_normal(n)


@pytest.mark.parametrize("delay_ms", [37, -37, 0, 250, -900])
def test_copy_delayed_by_known_ms_is_found_within_one_sample(delay_ms):
    ref = speechy(SR * 2)
    lag = round(delay_ms * SR / 1000)
    sig = np.zeros(SR * 2)
    if lag >= 0:
        sig[lag:] = ref[: len(sig) - lag]
    else:
        sig[:lag] = ref[-lag:]
    got = align.find_lag(ref, sig, sample_rate_hz=SR)
    assert got is not None
    assert abs(got - lag) <= 1


def test_delayed_copy_with_noise_and_gain_still_aligns():
    ref = speechy(SR * 3, seed=5)
    lag = round(0.037 * SR)
    sig = np.concatenate([np.zeros(lag), 0.5 * ref])
    sig = sig + 0.01 * np.random.default_rng(9).standard_normal(len(sig))
    assert align.find_lag(ref, sig, sample_rate_hz=SR) == lag


def test_lag_beyond_search_window_is_not_returned():
    ref = speechy(SR * 3, seed=2)
    sig = np.concatenate([np.zeros(int(1.5 * SR)), ref])
    got = align.find_lag(ref, sig, sample_rate_hz=SR)
    assert got is not None
    assert abs(got) <= SR


def test_silent_input_gives_none():
    assert align.find_lag(np.zeros(100), np.ones(100), sample_rate_hz=SR) is None


def test_aligned_pair_shifts_ref_onto_sig_axis():
    ref = np.arange(1, 11, dtype=float)
    on, _, _ = align.aligned_pair(ref, np.zeros(12), 3)
    assert on.tolist() == [0, 0, 0, *range(1, 10)]
    on2, _, _ = align.aligned_pair(ref, np.zeros(5), -2)
    assert on2.tolist() == [3, 4, 5, 6, 7]
