"""The TTS engine interface: the registry, the tone engine and espeak-ng, offline and
streamed (espeak's real incremental output through a worker thread)."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from agent import tts_tone
from agent.tts_engines import TTS_ENGINES, TtsEngine, make_tts_engine
from agent.tts_espeak_engine import EspeakEngine, stream_from_thread
from agent.tts_regress_signal import align
from agent.tts_tone import ToneEngine, plan, syllables_of_word
from autortc.errors import InputError
from autortc.espeak import EspeakSynth

EN = "Hello there, this is a streaming test. It has two sentences."
ZH = "你好，今天天气很好。我们去公园吧。"  # noqa: RUF001


@pytest.fixture(scope="module")
def espeak() -> EspeakEngine:
    return EspeakEngine()


# -- registry -------------------------------------------------------------------------


def test_the_registry_makes_espeak_by_default_and_tone_by_name() -> None:
    assert list(TTS_ENGINES) == ["espeak", "tone", "qwen"]
    assert make_tts_engine().name == "espeak"
    tone: TtsEngine = make_tts_engine("tone")
    assert (tone.name, tone.sample_rate_hz, tone.languages) == ("tone", 48_000, ("en", "zh"))


def test_an_unknown_engine_is_one_input_error_line_listing_the_choices() -> None:
    with pytest.raises(InputError) as e:
        make_tts_engine("qwen9")
    assert str(e.value) == "unknown TTS engine 'qwen9' (choose from espeak, tone, qwen)"


# -- tone engine ----------------------------------------------------------------------


def test_a_latin_word_has_one_syllable_per_vowel_group_and_a_cjk_char_is_one() -> None:
    assert syllables_of_word("hello") == ["he", "llo"]
    assert syllables_of_word("banana") == ["ba", "na", "na"]
    assert syllables_of_word("hmm") == ["hmm"]
    assert plan("你好，ok") == [  # noqa: RUF001
        tts_tone.Burst("你"),
        tts_tone.Burst("好"),
        tts_tone.Gap(tts_tone.PUNCT_GAP_MS),
        tts_tone.Burst("ok"),
    ]


def test_tone_durations_are_bursts_plus_gaps() -> None:
    engine = ToneEngine()
    # "ab cd." = 2 bursts, a space gap, a trailing punctuation gap; a leading gap is dropped
    pcm = engine.synthesize("  ab cd.", language="en")
    ms = 2 * tts_tone.SYLLABLE_MS + tts_tone.SPACE_GAP_MS + tts_tone.PUNCT_GAP_MS
    assert len(pcm) == 48 * ms
    assert not np.any(pcm[48 * tts_tone.SYLLABLE_MS : 48 * (tts_tone.SYLLABLE_MS + 40)])


def test_a_tone_burst_carries_its_syllables_hashed_partials() -> None:
    f1, f2 = tts_tone.partials_hz("ni")
    pcm = tts_tone.burst("ni").astype(np.float64)
    spectrum = np.abs(np.fft.rfft(pcm, n=48_000))  # 1 Hz bins
    assert abs(int(np.argmax(spectrum[:850])) - f1) <= 2  # f1: 180-770 Hz
    assert abs(850 + int(np.argmax(spectrum[850:])) - f2) <= 2  # f2: 900-2480 Hz, half as loud
    assert tts_tone.partials_hz("ni") != tts_tone.partials_hz("hao")


def test_the_tone_engine_gives_identical_samples_for_the_same_text() -> None:
    a = ToneEngine().synthesize(EN, language="en")
    ToneEngine().synthesize(ZH, language="zh")
    b = ToneEngine().synthesize(EN, language="en")
    assert a.dtype == np.int16
    assert np.array_equal(a, b)


@pytest.mark.parametrize(("text", "language"), [(EN, "en"), (ZH, "zh")])
def test_the_tone_stream_yields_one_chunk_per_syllable_and_concatenates_to_offline(
    text: str, language: str
) -> None:
    engine = ToneEngine()
    chunks = list(engine.stream(text, language=language))
    bursts = sum(isinstance(item, tts_tone.Burst) for item in plan(text))
    assert len(chunks) == bursts
    assert np.array_equal(np.concatenate(chunks), engine.synthesize(text, language=language))


def test_the_tone_engine_refuses_a_language_it_lacks() -> None:
    with pytest.raises(InputError, match="no language 'fr'"):
        ToneEngine().stream("bonjour", language="fr")


# -- espeak-ng ------------------------------------------------------------------------


def test_synthesize_chunks_concatenate_to_exactly_synthesize() -> None:
    synth = EspeakSynth()
    chunks: list[np.ndarray] = []

    def keep(chunk: np.ndarray) -> bool:
        chunks.append(chunk)
        return True

    done = synth.synthesize_chunks(EN, on_chunk=keep)
    assert done
    assert len(chunks) > 5  # espeak hands over ~60 ms buffers while it synthesises
    assert np.array_equal(np.concatenate(chunks), synth.synthesize(EN))


def test_synthesize_chunks_stops_when_the_sink_says_so_and_raises_its_error() -> None:
    synth = EspeakSynth()
    chunks: list[np.ndarray] = []

    def three(chunk: np.ndarray) -> bool:
        chunks.append(chunk)
        return len(chunks) < 3

    assert not synth.synthesize_chunks(EN, on_chunk=three)
    assert len(chunks) == 3

    def boom(_chunk: np.ndarray) -> bool:
        raise ValueError("sink failed")

    with pytest.raises(ValueError, match="sink failed"):
        synth.synthesize_chunks(EN, on_chunk=boom)
    assert len(synth.synthesize("Still works.")) > 0  # the lock and the library are free


def test_espeak_offline_is_the_reference_agents_synthesize_48k(espeak: EspeakEngine) -> None:
    from agent.tts_espeak import synthesize_48k

    synth = EspeakSynth()
    expected = synthesize_48k(synth, EN, voice="en-us", rate_wpm=175)
    assert np.array_equal(espeak.synthesize(EN, language="en"), expected)


@pytest.mark.parametrize(("text", "language"), [(EN, "en"), (ZH, "zh")])
def test_the_espeak_stream_is_incremental_and_within_15_db_snr_of_offline(
    espeak: EspeakEngine, text: str, language: str
) -> None:
    offline = espeak.synthesize(text, language=language)
    chunks = list(espeak.stream(text, language=language))
    streamed = np.concatenate(chunks)
    assert len(chunks) > 10
    assert max(len(c) for c in chunks) < 48_000 * 0.2  # ~60 ms buffers, not whole sentences
    assert streamed.dtype == np.int16
    assert abs(len(streamed) - len(offline)) <= 48  # within 1 ms
    aligned = align(offline, streamed, max_lag_samples=4800)
    assert aligned is not None
    assert aligned.lag_samples == 0
    assert aligned.snr_db >= 15.0


def test_the_espeak_stream_is_deterministic(espeak: EspeakEngine) -> None:
    a = np.concatenate(list(espeak.stream(EN, language="en")))
    b = np.concatenate(list(espeak.stream(EN, language="en")))
    assert np.array_equal(a, b)


def test_closing_the_espeak_stream_early_stops_synthesis_and_frees_the_library() -> None:
    engine = EspeakEngine(queue_chunks=1)  # the producer waits on the consumer at once
    stream = engine.stream(EN * 3, language="en")
    first = next(stream)
    assert len(first) > 0
    stream.close()  # type: ignore[attr-defined]
    assert not [t for t in threading.enumerate() if t.name == "espeak-stream"]
    assert len(engine.synthesize("Free again.", language="en")) > 0


def test_espeak_maps_languages_to_voices_and_refuses_others_at_the_call(
    espeak: EspeakEngine,
) -> None:
    assert (espeak.voice("en"), espeak.voice("zh")) == ("en-us", "cmn")
    with pytest.raises(InputError, match="no language 'de'"):
        espeak.stream("Hallo", language="de")  # raised before any chunk is asked for


def test_an_error_in_the_producer_thread_is_raised_in_the_consumer() -> None:
    def produce(sink: object) -> None:
        raise RuntimeError("engine crashed")

    with pytest.raises(RuntimeError, match="engine crashed"):
        list(stream_from_thread(produce, max_chunks=4, thread_name="t"))
