import numpy as np
import pytest
from scipy import signal

from autortc.metrics import registry as M
from autortc.metrics import ring1

SR = 48_000


def broadband(n, seed=0):
    rng = np.random.default_rng(seed)
    env = 0.5 + 0.5 * np.abs(np.sin(2 * np.pi * 2 * np.arange(n) / SR))
    return 0.2 * env * rng.standard_normal(n)


def lowpass(x, hz):
    sos = signal.butter(8, hz, btype="low", fs=SR, output="sos")
    return signal.sosfiltfilt(sos, x)


def test_mel_filterbank_is_htk_triangles_covering_0_to_12k():
    fb = ring1.mel_filterbank(sample_rate_hz=SR, n_fft=1200)
    assert fb.shape == (64, 601)
    assert fb.max() == pytest.approx(1.0, abs=0.05)
    freqs = np.fft.rfftfreq(1200, 1 / SR)
    assert not fb[:, freqs > 12_000].any()
    assert float(ring1.hz_to_mel(1000.0)) == pytest.approx(1000.0, abs=0.5)  # HTK: 1 kHz ~ 1000 mel


def test_identity_has_zero_mel_distance_and_zero_hf_drop():
    x = broadband(SR * 2)
    assert ring1.mel_distance_db(x, x, sample_rate_hz=SR) == pytest.approx(0.0, abs=1e-9)
    assert ring1.hf_ratio_drop(x, x, sample_rate_hz=SR) == pytest.approx(0.0, abs=1e-12)


def test_6db_gain_loss_gives_6db_mel_distance():
    x = broadband(SR * 2)
    assert ring1.mel_distance_db(x, 0.5 * x, sample_rate_hz=SR) == pytest.approx(6.02, abs=0.05)
    assert ring1.hf_ratio_drop(x, 0.5 * x, sample_rate_hz=SR) == pytest.approx(0.0, abs=1e-9)


def test_4khz_lowpass_raises_hf_ratio_drop_markedly():
    x = broadband(SR * 2)
    y = lowpass(x, 4000)
    drop = ring1.hf_ratio_drop(x, y, sample_rate_hz=SR)
    assert drop is not None
    assert drop > 0.9
    assert ring1.mel_distance_db(x, y, sample_rate_hz=SR) > 5.0


def test_hf_ratio_matches_known_band_split():
    t = np.arange(SR) / SR
    x = np.sin(2 * np.pi * 1000 * t) + np.sin(2 * np.pi * 6000 * t)  # equal energy in 0-4k and 4-8k
    assert ring1.hf_ratio(x, sample_rate_hz=SR) == pytest.approx(0.5, abs=1e-6)


def test_mel_distance_ignores_frames_where_pre_is_silent():
    x = broadband(SR * 2)
    x[SR:] = 0.0
    y = x.copy()
    y[SR + 2400 :] = 0.3  # garbage where pre is silent (after a 50 ms guard)
    assert ring1.mel_distance_db(x, y, sample_rate_hz=SR) == pytest.approx(0.0, abs=0.5)
    assert ring1.mel_distance_db(np.zeros(SR), y[:SR], sample_rate_hz=SR) is None


def test_optional_extras_never_raise():
    x = broadband(SR)
    extras = ring1.optional_extras(x, x, sample_rate_hz=SR)
    assert set(extras) <= set(M.OPTIONAL_EXTRAS)
