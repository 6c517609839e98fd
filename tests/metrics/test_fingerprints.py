import numpy as np
import pytest
from scipy import signal

from autortc.metrics import fingerprints

SR = 48_000


def test_spikes_in_speechlike_input_are_counted(synth):
    x = synth.speechlike(3.0, seed=4, amp=0.2)
    base_count, _ = fingerprints.detect_spikes(x, sample_rate_hz=SR)
    assert base_count == 0
    for at_ms, width in ((500, 1), (1200, 5), (2500, 30)):
        i = int(at_ms * SR / 1000)
        x[i : i + width] = 0.9
    count, peak = fingerprints.detect_spikes(x, sample_rate_hz=SR)
    assert count == 3
    assert peak == pytest.approx(0.9)


def test_loud_tone_is_not_a_spike():
    x = 0.95 * np.sin(2 * np.pi * 200 * np.arange(SR) / SR)
    assert fingerprints.detect_spikes(x, sample_rate_hz=SR) == (0, pytest.approx(0.95, abs=1e-3))


def test_spike_below_half_scale_is_not_counted():
    x = np.zeros(SR)
    x[1000] = 0.45
    x[20000] = -0.8
    count, peak = fingerprints.detect_spikes(x, sample_rate_hz=SR)
    assert count == 1
    assert peak == pytest.approx(0.8)


def _speed(x, percent):
    """Speed change by resampling: +3 % plays 3 % faster (shorter)."""
    up, down = 100, 100 + percent
    return signal.resample_poly(x, up, down)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("duration_s", [1.0, 3.0])
def test_speed_3_percent_warns_and_1_percent_does_not(synth, seed, duration_s):
    x = synth.speechlike(duration_s, seed=seed)
    pre = np.concatenate([np.zeros(2400), x, np.zeros(2400)])
    for pct, warns in ((3, True), (-3, True), (1, False), (-1, False), (0, False)):
        post = np.concatenate([np.zeros(4800), _speed(x, pct) if pct else x, np.zeros(4800)])
        r = fingerprints.drift_ratio(pre, post, sample_rate_hz=SR)
        assert r == pytest.approx(100 / (100 + pct), abs=0.004), (pct, r)
        assert fingerprints.drift_warns(r, warn_fraction=0.02) is warns


def test_added_transport_gap_does_not_count_as_drift(synth):
    x = synth.speechlike(2.0, seed=7)
    post = np.concatenate([x[:SR], np.zeros(4800), x[SR:]])  # 100 ms added mid-reply
    assert fingerprints.drift_ratio(
        x, post, sample_rate_hz=SR, added_gap_total_ms=100.0
    ) == pytest.approx(1.0, abs=0.002)


def test_distortion_and_boom_warn_rules():
    assert fingerprints.distortion_warns(0.6, warn_threshold=0.5)
    assert not fingerprints.distortion_warns(0.4, warn_threshold=0.5)
    assert not fingerprints.distortion_warns(None, warn_threshold=0.5)
    assert fingerprints.boom_warns(1, max_spikes=0)
    assert not fingerprints.boom_warns(0, max_spikes=0)
