"""What the caller heard: pocketsphinx transcripts of espeak-ng speech, clean and degraded.

Bounds are set from measured values with margin (see each test). Everything is
deterministic: espeak-ng, the degradations (seeded) and the recogniser (its feature state is
reset per utterance, its noise floor seeded).
"""

from __future__ import annotations

import socket
import subprocess
import sys
from typing import Any

import numpy as np
import pytest

from autortc.espeak import EspeakSynth, resample_to_48k
from autortc.quality import heard

RATE_HZ = 48_000
TEXT = "Hello, my name is Alex and I will be your assistant."


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """The model ships inside the wheel: any connection attempt fails the test."""

    def refuse(*_args: Any, **_kwargs: Any) -> None:
        raise AssertionError("heard.py tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    """About 2.9 s of espeak-ng speech of TEXT at 48 kHz, float in [-1, 1]."""
    synth = EspeakSynth()
    pcm = resample_to_48k(synth.synthesize(TEXT), synth.sample_rate_hz)
    return pcm.astype(np.float64) / 32768.0


def _gate(x: np.ndarray, *, fraction: float = 0.6, seed: int = 0) -> np.ndarray:
    """Zero `fraction` of the 100 ms chunks of `x`, chosen at random (seeded)."""
    chunk = int(0.100 * RATE_HZ)
    n = -(-len(x) // chunk)
    y = x.copy()
    for k in np.random.default_rng(seed).choice(n, round(fraction * n), replace=False):
        y[k * chunk : (k + 1) * chunk] = 0.0
    return y


def _wer(hyp: str) -> float:
    wer = heard.error_rate(TEXT, hyp)
    assert wer is not None
    return wer


def _with_noise(x: np.ndarray, *, snr_db: float, seed: int = 1) -> np.ndarray:
    rms = float(np.sqrt(np.mean(x**2))) * 10 ** (-snr_db / 20)
    return np.clip(x + np.random.default_rng(seed).normal(0.0, rms, len(x)), -1.0, 1.0)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hello, World!", "hello world"),
        ("It's 42 degrees - at 7:30.", "it's forty two degrees at seven thirty"),
        ("1,500 people; 0 left", "one thousand five hundred people zero left"),
        ("In 9999 or 10000?", "in nine thousand nine hundred ninety nine or 10000"),
        ("state-of-the-art", "state of the art"),
        ("'Quoted' O\u2019Clock don't", "quoted o'clock don't"),
        ("  Tabs\tand\n\nnewlines  ", "tabs and newlines"),
        ("1st 3.5 a1", "1st three five a1"),
        ("Room 101, floor 12", "room one hundred one floor twelve"),
        ("", ""),
    ],
)
def test_normalise_table(text: str, expected: str) -> None:
    assert heard.normalise(text) == expected


def test_number_words_edges() -> None:
    assert [heard.number_words(n) for n in (0, 13, 20, 99, 100, 1000, 2024)] == [
        "zero",
        "thirteen",
        "twenty",
        "ninety nine",
        "one hundred",
        "one thousand",
        "two thousand twenty four",
    ]
    with pytest.raises(ValueError, match="0-9999"):
        heard.number_words(10_000)


def test_error_rate_known_answers() -> None:
    pytest.importorskip("jiwer")
    assert heard.error_rate("the cat sat down", "The cat, sat down!") == 0.0
    assert heard.error_rate("the cat sat down", "the dog sat down") == 0.25
    assert heard.error_rate("it is 42", "it is forty two") == 0.0
    assert heard.error_rate("the cat", "") == 1.0
    assert heard.error_rate("", "anything") is None
    assert heard.error_rate(" ?! ", "anything") is None


def test_is_cjk() -> None:
    assert heard.is_cjk("您好\uff0c请问有什么可以帮您\uff1f")
    assert heard.is_cjk("order 号 42")
    assert not heard.is_cjk("Hello, caf\u00e9 \u00fcber")
    assert not heard.is_cjk("\u3053\u3093\u306b\u3061\u306f")  # kana, not ideographs


def test_espeak_speech_is_transcribed_and_silence_or_noise_is_not(speech: np.ndarray) -> None:
    pytest.importorskip("pocketsphinx")
    # Measured: "hello my name is alex and i will be your assistant", WER 0.0.
    hyp = heard.transcribe(speech, sample_rate_hz=RATE_HZ)
    assert hyp == hyp.lower()
    assert _wer(hyp) <= 0.35, hyp
    # int16 input at espeak's own rate goes through the same path.
    synth = EspeakSynth()
    hyp_i16 = heard.transcribe(synth.synthesize(TEXT), sample_rate_hz=synth.sample_rate_hz)
    assert _wer(hyp_i16) <= 0.35, hyp_i16
    # Measured: '' for 2 s of digital silence and for 2 s of white noise at 0.1 / 0.3 rms.
    silence = np.zeros(2 * RATE_HZ)
    noise = np.random.default_rng(0).normal(0.0, 0.1, 2 * RATE_HZ)
    for audio in (silence, noise):
        got = heard.transcribe(audio, sample_rate_hz=RATE_HZ)
        assert _wer(got) >= 0.8, got


def test_identical_pre_and_post_give_zero_delta_and_degradation_a_positive_one(
    speech: np.ndarray,
) -> None:
    pytest.importorskip("pocketsphinx")
    same = heard.score_reply(speech, speech.copy(), text=TEXT, sample_rate_hz=RATE_HZ)
    assert same.skipped is None
    assert same.hyp_pre == same.hyp_post
    assert same.wer_delta == 0.0
    assert same.cpu_s > 0.0
    # Measured on this sentence: 60 % of 100 ms chunks zeroed -> post WER 0.82-1.00 over
    # seeds 0-2 (delta the same: pre is 0.0); white noise at -5 dB SNR -> post WER 0.91-1.00.
    for post in (_gate(speech), _with_noise(speech, snr_db=-5.0)):
        bad = heard.score_reply(speech, post, text=TEXT, sample_rate_hz=RATE_HZ)
        assert bad.skipped is None
        assert bad.wer_pre == same.wer_pre  # the decoder carries nothing between replies
        assert bad.wer_delta is not None
        assert bad.wer_delta >= 0.4, bad


def test_bad_audio_never_raises() -> None:
    pytest.importorskip("pocketsphinx")
    empty = heard.score_reply(None, np.zeros(0), text=TEXT, sample_rate_hz=RATE_HZ)
    assert (empty.hyp_post, empty.wer_post, empty.wer_pre, empty.wer_delta) == ("", 1.0, None, None)
    assert empty.skipped is None
    nan = heard.score_reply(None, np.full(4_800, np.nan), text=TEXT, sample_rate_hz=RATE_HZ)
    assert nan.skipped is None
    assert nan.wer_post is not None
    bad_rate = heard.score_reply(None, np.zeros(100), text=TEXT, sample_rate_hz=0)
    assert bad_rate.skipped is not None
    assert "sample_rate_hz" in bad_rate.skipped


def test_cjk_and_empty_text_are_skipped_with_the_reason(speech: np.ndarray) -> None:
    cjk = heard.score_reply(speech, speech, text="您好\uff0c我是您的助手。", sample_rate_hz=RATE_HZ)
    assert cjk.skipped == heard.CJK_SKIP_REASON
    assert "pocketsphinx has English only" in cjk.skipped
    assert (cjk.wer_pre, cjk.wer_post, cjk.wer_delta, cjk.hyp_post) == (None, None, None, "")
    empty = heard.score_reply(None, speech, text=" ... ", sample_rate_hz=RATE_HZ)
    assert empty.skipped is not None
    assert empty.wer_post is None


def test_available_here_and_recogniser_names_the_installed_version() -> None:
    ps = pytest.importorskip("pocketsphinx")
    pytest.importorskip("jiwer")
    from importlib import metadata

    assert heard.available() is None
    assert heard.RECOGNISER.startswith(f"pocketsphinx {metadata.version('pocketsphinx')}, en-us")
    assert "en-us" in ps.get_model_path("en-us")  # the model the decoder uses ships here


def test_module_imports_and_skips_without_the_recogniser() -> None:
    code = (
        "import sys; sys.modules['pocketsphinx'] = None; sys.modules['jiwer'] = None\n"
        "import numpy as np\n"
        "from autortc.quality import heard\n"
        "print(heard.available())\n"
        "print(heard.score_reply(None, np.zeros(10), text='hi', sample_rate_hz=16000).skipped)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout.splitlines()
    assert out[0] == "pocketsphinx not installed (pip install 'autortc[heard]')"
    assert out[1] == out[0]


def test_the_vocabulary_is_the_replys_own_normalised_words() -> None:
    assert heard.vocabulary("Book it for 7, at the river!") == (
        "at",
        "book",
        "for",
        "it",
        "river",
        "seven",
        "the",
    )


def test_a_restricted_transcript_hears_the_clean_reply_and_loses_words_to_dropouts(
    speech: np.ndarray,
) -> None:
    words = heard.vocabulary(TEXT)
    clean = heard.transcribe(speech, sample_rate_hz=RATE_HZ, words=words)
    assert set(clean.split()) <= set(words)  # nothing outside the reply's words is heard
    wer_clean = heard.error_rate(TEXT, clean)
    assert wer_clean is not None
    assert wer_clean <= 0.2
    gated = heard.transcribe(_gate(speech), sample_rate_hz=RATE_HZ, words=words)
    wer_gated = heard.error_rate(TEXT, gated)
    assert wer_gated is not None
    assert wer_gated > wer_clean + 0.2
