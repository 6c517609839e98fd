"""Listening-quality figures on real synthetic speech (espeak-ng), clean and degraded.

Bounds are set from measured values with margin (see each test). The figures are
deterministic: espeak-ng, the degradations (seeded) and PLCMOS's rater draw (seeded).
"""

from __future__ import annotations

import socket
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from autortc.espeak import EspeakSynth, resample_to_48k
from autortc.quality import listening

RATE_HZ = 48_000
TEXT = "Thanks for calling. Your order shipped yesterday and should arrive on Friday afternoon."
REASONS = listening.available()


def _needs(*families: str) -> pytest.MarkDecorator:
    missing = [f"{f}: {REASONS[f]}" for f in families if REASONS[f] is not None]
    return pytest.mark.skipif(bool(missing), reason="; ".join(missing))


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """The models ship inside the wheels: any connection attempt fails the test."""

    def refuse(*_args: Any, **_kwargs: Any) -> None:
        raise AssertionError("listening-quality code tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    """About 4.8 s of espeak-ng speech at 48 kHz, float in [-1, 1]."""
    synth = EspeakSynth()
    pcm = resample_to_48k(synth.synthesize(TEXT), synth.sample_rate_hz)
    return pcm.astype(np.float64) / 32768.0


def _burst_loss(x: np.ndarray, *, fraction: float = 0.2, burst: int = 3) -> np.ndarray:
    """Zero `fraction` of the 20 ms frames, in bursts of `burst` frames (packet-loss-like)."""
    rng = np.random.default_rng(1)
    frame = int(0.020 * RATE_HZ)
    n = len(x) // frame
    lost = np.zeros(n, dtype=bool)
    while lost.mean() < fraction:
        start = int(rng.integers(0, n - burst))
        lost[start : start + burst] = True
    y = x.copy()
    for k in np.flatnonzero(lost):
        y[k * frame : (k + 1) * frame] = 0.0
    return y


def _with_noise(x: np.ndarray, *, snr_db: float | None = None, rms: float = 0.0) -> np.ndarray:
    """White Gaussian noise at `snr_db` relative to the signal's RMS, or at an absolute `rms`."""
    if snr_db is not None:
        rms = float(np.sqrt(np.mean(x**2))) * 10 ** (-snr_db / 20)
    noise = np.random.default_rng(2).normal(0.0, rms, len(x))
    return np.clip(x + noise, -1.0, 1.0)


@_needs("visqol")
def test_visqol_is_high_for_identity_and_clearly_lower_under_loss_and_noise(
    speech: np.ndarray,
) -> None:
    # Measured: identity 5.0 (the speech map clips there), 20 % burst loss 4.29, 0 dB SNR 2.69.
    same = listening.full_reference(speech, speech, sample_rate_hz=RATE_HZ)["visqol_moslqo"]
    lossy = _burst_loss(speech)
    lost = listening.full_reference(speech, lossy, sample_rate_hz=RATE_HZ)["visqol_moslqo"]
    noisy = _with_noise(speech, snr_db=0.0)
    noise = listening.full_reference(speech, noisy, sample_rate_hz=RATE_HZ)["visqol_moslqo"]
    assert same is not None
    assert lost is not None
    assert noise is not None
    assert same >= 4.5
    assert lost <= same - 0.5
    assert noise <= 3.5


@_needs("pystoi")
def test_stoi_is_one_for_identity_and_clearly_lower_at_minus_5_db_snr(speech: np.ndarray) -> None:
    # Measured: identity 1.0, -5 dB SNR white noise 0.83.
    same = listening.full_reference(speech, speech, sample_rate_hz=RATE_HZ)["stoi"]
    noisy = _with_noise(speech, snr_db=-5.0)
    degraded = listening.full_reference(speech, noisy, sample_rate_hz=RATE_HZ)["stoi"]
    assert same is not None
    assert degraded is not None
    assert same >= 0.99
    assert degraded <= same - 0.1


@_needs("dnsmos")
def test_dnsmos_scores_clean_speech_above_the_same_speech_in_loud_noise(
    speech: np.ndarray,
) -> None:
    # Measured: clean OVRL 3.03 / BAK 3.92; with white noise at RMS 0.3, OVRL 1.22 / BAK 1.18.
    clean = listening.no_reference(speech, sample_rate_hz=RATE_HZ)
    noisy = listening.no_reference(_with_noise(speech, rms=0.3), sample_rate_hz=RATE_HZ)
    for scores in (clean, noisy):
        for key in ("dnsmos_sig", "dnsmos_bak", "dnsmos_ovrl"):
            value = scores[key]
            assert value is not None, key
            assert 1.0 <= value <= 5.0, (key, value)
    assert clean["dnsmos_ovrl"] >= noisy["dnsmos_ovrl"] + 1.0  # type: ignore[operator]
    assert clean["dnsmos_bak"] >= noisy["dnsmos_bak"] + 1.5  # type: ignore[operator]


@_needs("plcmos_v2")
def test_plcmos_scores_clean_speech_above_20_percent_burst_loss_and_repeats(
    speech: np.ndarray,
) -> None:
    # Measured: clean 2.82, 20 % of 20 ms frames zeroed in bursts of 3: 1.89.
    clean = listening.no_reference(speech, sample_rate_hz=RATE_HZ)["plcmos"]
    lost = listening.no_reference(_burst_loss(speech), sample_rate_hz=RATE_HZ)["plcmos"]
    assert clean is not None
    assert lost is not None
    assert clean >= lost + 0.5
    # The rater embeddings are drawn from a seeded generator: the figure repeats exactly.
    assert listening.no_reference(speech, sample_rate_hz=RATE_HZ)["plcmos"] == clean


def test_missing_packages_drop_their_keys_and_available_says_why(
    monkeypatch: pytest.MonkeyPatch, speech: np.ndarray
) -> None:
    real_import = listening._import

    def fake_import(name: str) -> ModuleType:
        if name.startswith(("visqol", "speechmos")):
            raise ImportError(f"No module named {name!r}", name=name.split(".")[0])
        return real_import(name)

    monkeypatch.setattr(listening, "_import", fake_import)
    reasons = listening.available()
    assert reasons["visqol"] == "visqol-python not installed (pip install 'autortc[quality]')"
    assert reasons["dnsmos"] == "speechmos not installed (pip install 'autortc[quality]')"
    assert reasons["plcmos_v2"] == reasons["dnsmos"]
    if REASONS["pystoi"] is None:
        assert reasons["pystoi"] is None
    short = speech[: RATE_HZ // 10]  # the keys are decided before any scoring
    full = listening.full_reference(short, short, sample_rate_hz=RATE_HZ)
    assert set(full) == ({"stoi"} if REASONS["pystoi"] is None else set())
    assert listening.no_reference(short, sample_rate_hz=RATE_HZ) == {}

    def no_onnxruntime(name: str) -> ModuleType:
        if name == "onnxruntime":
            raise ImportError("No module named 'onnxruntime'", name="onnxruntime")
        return real_import(name)

    monkeypatch.setattr(listening, "_import", no_onnxruntime)
    reasons = listening.available()
    if REASONS["plcmos_v2"] is None:
        assert reasons["plcmos_v2"] == (
            "speechmos unusable: onnxruntime not importable (No module named 'onnxruntime')"
        )


@_needs("visqol", "pystoi", "dnsmos", "plcmos_v2")
@pytest.mark.parametrize(
    ("label", "length"),
    [("empty", 0), ("one sample", 1), ("0.3 s", int(0.3 * RATE_HZ)), ("0.9 s", int(0.9 * RATE_HZ))],
)
def test_too_short_input_gives_none_not_an_exception(
    speech: np.ndarray, label: str, length: int
) -> None:
    x = speech[:length]
    full = listening.full_reference(x, x, sample_rate_hz=RATE_HZ)
    no_ref = listening.no_reference(x, sample_rate_hz=RATE_HZ)
    if length >= listening.MIN_DURATION_S["pystoi"] * RATE_HZ:
        full.pop("stoi")  # 0.9 s is long enough for STOI
        no_ref.pop("plcmos")  # and for PLCMOS
    assert set(full.values()) <= {None}, label
    assert set(no_ref.values()) <= {None}, label


@_needs("visqol", "pystoi", "dnsmos", "plcmos_v2")
def test_bad_input_gives_none(speech: np.ndarray) -> None:
    broken = speech.copy()
    broken[100] = np.nan
    assert listening.full_reference(speech, speech[:-1], sample_rate_hz=RATE_HZ) == {
        "visqol_moslqo": None,
        "stoi": None,
    }
    assert set(listening.full_reference(speech, broken, sample_rate_hz=RATE_HZ).values()) == {None}
    assert set(listening.no_reference(broken, sample_rate_hz=RATE_HZ).values()) == {None}
    stereo = np.stack([speech, speech])
    assert set(listening.no_reference(stereo, sample_rate_hz=RATE_HZ).values()) == {None}


def test_resample_to_16k_keeps_duration_and_pitch() -> None:
    for rate_hz in (48_000, 24_000, 16_000, 44_100):
        t = np.arange(rate_hz) / rate_hz
        y = listening._to_16k(0.5 * np.sin(2 * np.pi * 1000.0 * t), rate_hz)
        assert len(y) == 16_000
        peak_hz = np.argmax(np.abs(np.fft.rfft(y))) * 16_000 / len(y)
        assert peak_hz == pytest.approx(1000.0, abs=2.0)
        assert np.max(np.abs(y)) <= 1.0
