import numpy as np
import pytest

from autortc.metrics import levels
from autortc.metrics.slicing import sample_to_time_ns, time_to_sample

SR = 48_000


def test_frame_rms_of_constant_is_exact_and_last_frame_zero_padded():
    x = np.full(480 * 3 + 240, 0.5)
    fr = levels.frame_rms(x, SR)
    assert len(fr) == 4
    assert fr[:3] == pytest.approx([0.5, 0.5, 0.5], abs=1e-12)
    assert fr[3] == pytest.approx(0.5 * np.sqrt(0.5), abs=1e-12)


def test_sine_rms_is_amplitude_over_sqrt2():
    x = 0.2 * np.sin(2 * np.pi * 1000 * np.arange(SR) / SR)
    assert levels.rms(x) == pytest.approx(0.2 / np.sqrt(2), rel=1e-6)


def test_silent_and_audible_thresholds_leave_a_neither_band():
    fr = np.array([0.0049, 0.005, 0.0099, 0.01])
    assert levels.silent_mask(fr).tolist() == [True, False, False, False]
    assert levels.audible_mask(fr).tolist() == [False, False, False, True]


def test_runs_are_half_open_and_longest_run_counts_frames():
    m = np.array([0, 1, 1, 0, 1, 1, 1, 0, 1], dtype=bool)
    assert levels.runs(m) == [(1, 3), (4, 7), (8, 9)]
    assert levels.longest_run(m) == 3
    assert levels.longest_run(np.zeros(4, dtype=bool)) == 0


@pytest.mark.parametrize("start", [480 * 10, 480 * 10 + 100, 480 * 10 + 470])
def test_refine_onset_finds_tone_start_within_3_samples(start):
    # a 1 kHz tone starting at phase 0 crosses 0.25 x peak 2 samples after its start
    x = np.zeros(480 * 30)
    n = len(x) - start
    x[start:] = 0.3 * np.sin(2 * np.pi * 1000 * np.arange(n) / SR)
    k = levels.first_true(levels.audible_mask(levels.frame_rms(x, SR)))
    onset = levels.refine_onset(x, k, sample_rate_hz=SR)
    assert 0 <= onset - start <= 3


def test_refine_offset_finds_tone_end_within_3_samples():
    end = 480 * 20 + 333
    x = np.zeros(480 * 30)
    x[:end] = 0.3 * np.sin(2 * np.pi * 1000 * (np.arange(end) - end) / SR)  # ends at phase 0
    aud = np.flatnonzero(levels.audible_mask(levels.frame_rms(x, SR)))
    off = levels.refine_offset(x, int(aud[-1]), sample_rate_hz=SR)
    assert 0 <= (end - 1) - off <= 3


def test_time_sample_mapping_round_trips_on_ideal_and_jittered_grid():
    t0 = 10**12
    recv = np.array([t0 + round((i * 480 + 479) * 1e9 / SR) for i in range(100)], dtype=np.int64)
    for n in (0, 1, 479, 480, 12345, 47999):
        assert (
            time_to_sample(sample_to_time_ns(n, recv, sample_rate_hz=SR), recv, sample_rate_hz=SR)
            == n
        )
    # frame 10 delayed by 5 ms (a burst): its samples map to its own recv time
    recv2 = recv.copy()
    recv2[10] += 5_000_000
    assert sample_to_time_ns(10 * 480 + 479, recv2, sample_rate_hz=SR) == recv2[10]
    assert time_to_sample(recv2[10], recv2, sample_rate_hz=SR) == 10 * 480 + 479


def test_time_to_sample_clamps_outside_recording():
    recv = np.array([10**9 + i * 10_000_000 for i in range(10)], dtype=np.int64)
    assert time_to_sample(0, recv, sample_rate_hz=SR) == 0
    assert time_to_sample(10**15, recv, sample_rate_hz=SR) == 4800
