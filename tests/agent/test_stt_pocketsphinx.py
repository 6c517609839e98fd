"""The offline pocketsphinx STT on espeak-ng speech, directly and behind livekit-agents'
StreamAdapter with the session's silero VAD; and the STT engine registry."""

from __future__ import annotations

import asyncio
import importlib.util

import numpy as np
import pytest
from livekit import rtc
from livekit.agents import inference, stt

from agent.scripted import ScriptedSTT, ScriptState
from agent.stt_engines import STT_ENGINES, make_stt
from agent.stt_pocketsphinx import MODEL, PocketsphinxSTT
from autortc.errors import InputError
from autortc.espeak import EspeakSynth, resample_to_48k
from autortc.quality.heard import error_rate, normalise

SR = 48_000
FRAME_SAMPLES = 480  # 10 ms
TEXT = "hello world this is a test"
RATE_WPM = 150  # espeak's default 175 wpm is too fast for pocketsphinx's full LM

needs_pocketsphinx = pytest.mark.skipif(
    importlib.util.find_spec("pocketsphinx") is None or importlib.util.find_spec("jiwer") is None,
    reason="pocketsphinx and jiwer not installed (pip install 'autortc[heard]')",
)


def _frames(
    pcm: np.ndarray, *, channels: int = 1, sample_rate_hz: int = SR
) -> list[rtc.AudioFrame]:
    """Mono int16 PCM -> 10 ms frames (the last one zero-padded), each channel a copy."""
    n = sample_rate_hz // 100
    padded = np.concatenate([pcm, np.zeros(-len(pcm) % n, np.int16)]).astype(np.int16)
    interleaved = np.repeat(padded, channels)
    step = n * channels
    return [
        rtc.AudioFrame(
            data=interleaved[i : i + step].tobytes(),
            sample_rate=sample_rate_hz,
            num_channels=channels,
            samples_per_channel=n,
        )
        for i in range(0, len(interleaved), step)
    ]


def _shared_words(a: str, b: str) -> set[str]:
    return set(normalise(a).split()) & set(normalise(b).split())


@pytest.fixture(scope="module")
def speech_48k() -> np.ndarray:
    """TEXT spoken by espeak-ng at 48 kHz, with 300 ms of digital silence either side."""
    synth = EspeakSynth(voice="en-us")
    pcm = resample_to_48k(synth.synthesize(TEXT, rate_wpm=RATE_WPM), synth.sample_rate_hz)
    pad = np.zeros(int(0.3 * SR), np.int16)
    return np.concatenate([pad, pcm, pad])


@pytest.fixture(scope="module")
def full_stt() -> PocketsphinxSTT:
    return PocketsphinxSTT()


@pytest.fixture(scope="module")
def restricted_stt() -> PocketsphinxSTT:
    return PocketsphinxSTT(vocabulary=[TEXT, "goodbye"])


# -- recognition ----------------------------------------------------------------------


@needs_pocketsphinx
async def test_full_vocabulary_transcript_of_speech_is_final_english_and_shares_words(
    full_stt, speech_48k
):
    event = await full_stt.recognize(_frames(speech_48k))
    assert event.type == stt.SpeechEventType.FINAL_TRANSCRIPT
    [alt] = event.alternatives
    assert alt.language == "en"
    assert alt.text  # the full LM mishears espeak speech (WER ~0.5), but hears something
    assert len(_shared_words(alt.text, TEXT)) >= 2, alt.text
    assert 0.0 < alt.confidence <= 1.0
    assert (full_stt.model, full_stt.provider) == (MODEL, "pocketsphinx")
    assert not full_stt.capabilities.streaming


@needs_pocketsphinx
async def test_vocabulary_restricted_transcript_is_near_exact(restricted_stt, speech_48k):
    assert restricted_stt.vocabulary == ("a", "goodbye", "hello", "is", "test", "this", "world")
    event = await restricted_stt.recognize(_frames(speech_48k))
    text = event.alternatives[0].text
    assert set(text.split()) <= set(restricted_stt.vocabulary)
    wer = error_rate(TEXT, text)
    assert wer is not None
    assert wer <= 1 / 6, text  # at most one word of six wrong


@needs_pocketsphinx
async def test_stereo_frames_are_downmixed_to_the_same_transcript_as_mono(
    restricted_stt, speech_48k
):
    mono = await restricted_stt.recognize(_frames(speech_48k))
    stereo = await restricted_stt.recognize(_frames(speech_48k, channels=2))
    assert stereo.alternatives[0].text == mono.alternatives[0].text


@needs_pocketsphinx
async def test_silence_and_an_empty_buffer_give_an_empty_transcript_not_an_error(full_stt):
    silent = await full_stt.recognize(_frames(np.zeros(SR, np.int16)))
    assert (silent.alternatives[0].text, silent.alternatives[0].confidence) == ("", 0.0)
    empty = await full_stt.recognize([])
    assert empty.alternatives[0].text == ""


@needs_pocketsphinx
async def test_overlapping_recognitions_queue_on_one_decoder_and_agree(speech_48k):
    engine = PocketsphinxSTT(vocabulary=[TEXT])
    engine.prewarm()  # builds the decoder in a worker thread while the loop goes on
    frames = _frames(speech_48k)
    events = await asyncio.gather(*(engine.recognize(frames) for _ in range(4)))
    texts = {e.alternatives[0].text for e in events}
    assert len(texts) == 1  # the lock serialises decodes on the one decoder
    assert texts.pop()
    assert engine.recognitions == 4
    await engine.aclose()
    await engine.aclose()  # idempotent


def test_an_empty_vocabulary_is_an_input_error():
    with pytest.raises(InputError, match="vocabulary is empty"):
        PocketsphinxSTT(vocabulary=["", " ... "])


# -- behind the session's StreamAdapter -----------------------------------------------


@needs_pocketsphinx
async def test_stream_adapter_with_silero_vad_turns_speech_into_a_final_transcript(
    full_stt, speech_48k
):
    vad = inference.VAD(model="silero", min_silence_duration=0.35, min_speech_duration=0.05)
    adapter = stt.StreamAdapter(stt=full_stt, vad=vad)
    audio = np.concatenate([speech_48k, np.zeros(SR, np.int16)])  # 1 s to end the speech
    events: list[stt.SpeechEvent] = []
    async with asyncio.timeout(10), adapter.stream() as stream:
        for frame in _frames(audio):
            stream.push_frame(frame)
        stream.end_input()
        events = [event async for event in stream]
    kinds = [e.type for e in events]
    assert kinds == [
        stt.SpeechEventType.START_OF_SPEECH,
        stt.SpeechEventType.END_OF_SPEECH,
        stt.SpeechEventType.FINAL_TRANSCRIPT,
    ]
    assert _shared_words(events[-1].alternatives[0].text, TEXT)
    await adapter.aclose()


# -- the registry ---------------------------------------------------------------------


def test_make_stt_builds_the_scripted_engine():
    assert isinstance(make_stt("scripted", ScriptState(meta=None)), ScriptedSTT)


@needs_pocketsphinx
def test_make_stt_builds_the_pocketsphinx_engine():
    assert isinstance(make_stt("pocketsphinx", ScriptState(meta=None)), PocketsphinxSTT)
    assert STT_ENGINES == ("scripted", "pocketsphinx")


def test_an_unknown_engine_name_is_an_input_error_listing_the_choices():
    with pytest.raises(InputError, match="unknown STT engine 'whisper'") as info:
        make_stt("whisper", ScriptState(meta=None))
    assert all(name in str(info.value) for name in STT_ENGINES)
    assert "\n" not in str(info.value)
