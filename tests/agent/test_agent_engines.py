"""The espeak TTS and the scripted STT/LLM, driven through their livekit-agents APIs."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from livekit import rtc
from livekit.agents import llm

from agent.scripted import ScriptedLLM, ScriptedSTT, ScriptState, split_tokens
from agent.tts_espeak import EspeakTTS
from autortc.espeak import EspeakSynth
from autortc.protocol import RoomMeta


@pytest.fixture(scope="module")
def synth() -> EspeakSynth:
    return EspeakSynth(voice="en-us")


def _meta(**texts: list[str]) -> RoomMeta:
    return RoomMeta(
        run_id="r",
        case_id="c",
        trace_id="t",
        attempt=1,
        reply_text="First reply.",
        utterance_text="First question?",
        **{k: tuple(v) for k, v in texts.items()},
    )


async def test_espeak_tts_yields_48k_10ms_frames_with_speech_energy_and_trace_marks(synth):
    marks: list[str] = []
    engine = EspeakTTS(synth, trace_mark=lambda point, t_ns: marks.append(point))
    frames = [ev.frame async for ev in engine.synthesize("Hello there, this is a test.")]
    assert frames
    assert {f.sample_rate for f in frames} == {48000}
    assert {f.num_channels for f in frames} == {1}
    assert {f.samples_per_channel for f in frames} == {480}
    pcm = np.concatenate([np.frombuffer(f.data, np.int16) for f in frames]).astype(np.float64)
    assert len(pcm) > 48000 * 0.8  # about 1.5 s of speech
    rms = np.sqrt(np.mean((pcm / 32768.0) ** 2))
    assert rms > 0.03
    assert marks == ["tts_request", "tts_first_audio"]
    await engine.aclose()


async def test_espeak_tts_stream_synthesises_sentence_by_sentence(synth):
    engine = EspeakTTS(synth)
    stream = engine.stream()
    for token in ["One sentence here. ", "And a second ", "one there."]:
        stream.push_text(token)
    stream.end_input()
    frames = [ev.frame async for ev in stream]
    await stream.aclose()
    await engine.aclose()
    total = sum(f.samples_per_channel for f in frames)
    one = sum(
        [f.samples_per_channel async for f in _frames(EspeakTTS(synth), "One sentence here.")]
    )
    assert total > one * 1.5  # both sentences were spoken
    assert {f.sample_rate for f in frames} == {48000}


async def _frames(engine: EspeakTTS, text: str):
    async for ev in engine.synthesize(text):
        yield ev.frame


def _chat(*user_texts: str) -> llm.ChatContext:
    ctx = llm.ChatContext.empty()
    for i, text in enumerate(user_texts):
        ctx.add_message(role="user", content=text)
        if i < len(user_texts) - 1:
            ctx.add_message(role="assistant", content="...")
    return ctx


async def test_scripted_llm_streams_the_turns_reply_in_small_chunks_with_marks():
    script = ScriptState(_meta(reply_texts=["Zero reply here.", "One reply, second turn."]))
    marks: list[str] = []
    model = ScriptedLLM(script, trace_mark=lambda p, t: marks.append(p))
    async with model.chat(chat_ctx=_chat("hi")) as stream:
        chunks = [c.delta.content async for c in stream if c.delta and c.delta.content]
    assert "".join(chunks) == "Zero reply here."
    assert len(chunks) == 3
    assert marks == ["llm_request", "llm_first_token"]
    async with model.chat(chat_ctx=_chat("hi", "stop")) as stream:
        text = "".join([c.delta.content async for c in stream if c.delta and c.delta.content])
    assert text == "One reply, second turn."
    assert script.llm_requests == [0, 1]
    assert script.committed_turns == 2


async def test_scripted_llm_falls_back_to_reply_text_and_honours_first_token_delay(
    virtual_clock,
):
    model = ScriptedLLM(ScriptState(_meta()), first_token_delay_ms=80)
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    async with model.chat(chat_ctx=_chat("a", "b", "c")) as stream:
        first = None
        parts = []
        async for chunk in stream:
            first = first or loop.time()
            parts.append(chunk.delta.content if chunk.delta else "")
    assert "".join(parts) == "First reply."  # no reply_texts: turn 2 uses reply_text
    assert first is not None
    assert first - t0 >= 0.075
    assert split_tokens("a  b c") == ["a  ", "b ", "c"]


async def test_scripted_stt_returns_the_utterance_of_the_current_turn():
    script = ScriptState(_meta(utterance_texts=["zero", "one"]))
    recognizer = ScriptedSTT(script)
    frame = rtc.AudioFrame(
        data=b"\0\0" * 480, sample_rate=48000, num_channels=1, samples_per_channel=480
    )
    ev = await recognizer.recognize(buffer=frame)
    assert ev.alternatives[0].text == "zero"
    script.committed_turns = 1
    assert (await recognizer.recognize(buffer=frame)).alternatives[0].text == "one"
    script.committed_turns = 5
    assert (await recognizer.recognize(buffer=frame)).alternatives[0].text == "First question?"
