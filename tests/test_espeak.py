"""The espeak-ng binding: real synthesis, deterministic, and a library resampler."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from autortc.errors import InputError
from autortc.espeak import EspeakSynth, espeak_version, resample_to_48k


@pytest.fixture(scope="module")
def synth() -> EspeakSynth:
    return EspeakSynth()


def _duration_s(pcm: np.ndarray, rate_hz: int) -> float:
    return len(pcm) / rate_hz


def test_english_synthesis_is_non_silent_with_plausible_duration(synth: EspeakSynth) -> None:
    pcm = synth.synthesize("Hello, how are you doing today?")
    assert synth.sample_rate_hz == 22_050
    assert pcm.dtype == np.int16
    assert 0.8 < _duration_s(pcm, synth.sample_rate_hz) < 4.0
    assert np.max(np.abs(pcm.astype(np.int32))) > 3000


def test_mandarin_synthesis_is_non_silent_with_plausible_duration(synth: EspeakSynth) -> None:
    pcm = synth.synthesize("你好，今天天气怎么样？", voice="cmn")  # noqa: RUF001
    assert 0.8 < _duration_s(pcm, synth.sample_rate_hz) < 5.0
    assert np.max(np.abs(pcm.astype(np.int32))) > 3000


def test_same_text_twice_gives_identical_samples(synth: EspeakSynth) -> None:
    a = synth.synthesize("The quick brown fox.", rate_wpm=200)
    synth.synthesize("Something else in between.", voice="cmn", pitch=80, rate_wpm=120)
    b = synth.synthesize("The quick brown fox.", rate_wpm=200)
    assert np.array_equal(a, b)


def test_faster_rate_gives_shorter_audio(synth: EspeakSynth) -> None:
    text = "This sentence is spoken at two different speeds."
    slow = synth.synthesize(text, rate_wpm=120)
    fast = synth.synthesize(text, rate_wpm=250)
    assert len(fast) < 0.8 * len(slow)


def test_synthesis_is_thread_safe(synth: EspeakSynth) -> None:
    expected = synth.synthesize("Thread safety check.")
    results: list[np.ndarray] = []

    def work() -> None:
        results.append(synth.synthesize("Thread safety check."))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 4
    assert all(np.array_equal(r, expected) for r in results)


def test_unknown_voice_raises_input_error(synth: EspeakSynth) -> None:
    with pytest.raises(InputError, match="no-such-voice"):
        synth.synthesize("hello", voice="no-such-voice")


def test_empty_text_gives_empty_audio(synth: EspeakSynth) -> None:
    assert len(synth.synthesize("   ")) == 0


def test_version_string_is_reported() -> None:
    assert espeak_version()[:1].isdigit()


def test_resample_to_48k_length_ratio_and_determinism() -> None:
    rng = np.random.default_rng(0)
    pcm = (rng.standard_normal(22_050) * 3000).astype(np.int16)
    out = resample_to_48k(pcm, 22_050)
    assert out.dtype == np.int16
    assert len(out) == 48_000
    assert np.array_equal(out, resample_to_48k(pcm, 22_050))
    assert len(resample_to_48k(pcm[:16_000], 16_000)) == 48_000


def test_resample_preserves_a_tone_frequency() -> None:
    t = np.arange(22_050) / 22_050
    pcm = (np.sin(2 * np.pi * 440 * t) * 10_000).astype(np.int16)
    out = resample_to_48k(pcm, 22_050).astype(np.float64)
    spectrum = np.abs(np.fft.rfft(out))
    peak_hz = np.argmax(spectrum) * 48_000 / len(out)
    assert abs(peak_hz - 440) < 2
