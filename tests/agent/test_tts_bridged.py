"""The bridged TTS (agent/tts_bridged.py) and the starter cache, on the tone engine."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from dataclasses import asdict, dataclass

import numpy as np
import pytest

from agent.gpu_lanes import GpuLanes
from agent.starter_cache import StarterCache
from agent.text_bridge import TextBridge
from agent.tts_bridged import BridgedTTS
from agent.tts_tone import ToneEngine

pytestmark = pytest.mark.realtime  # livekit-agents streams and a thread, in real time

ENGINE = ToneEngine()


def tone(text: str) -> np.ndarray:
    return ENGINE.synthesize(text, language="en")


async def speak(tts: BridgedTTS, deltas: list[str]) -> np.ndarray:
    stream = tts.stream()
    for d in deltas:
        stream.push_text(d)
    stream.end_input()
    frames = [np.frombuffer(ev.frame.data, dtype=np.int16) async for ev in stream]
    await stream.aclose()
    return np.concatenate(frames) if frames else np.zeros(0, np.int16)


def same_audio(pcm: np.ndarray, parts: list[np.ndarray]) -> None:
    """`pcm` is `parts` back to back, then at most one frame of silence (livekit-agents
    ends a stream's last segment with a silent frame)."""
    ref = np.concatenate(parts)
    np.testing.assert_array_equal(pcm[: len(ref)], ref)
    assert len(ref) <= len(pcm) <= len(ref) + 480 + 479
    assert not pcm[len(ref) :].any()


def test_the_cache_matches_an_opener_exactly_and_counts() -> None:
    cache = StarterCache(("Sure,", "Of course."))
    cache.fill(tone)
    assert cache.ready == 2
    hit = cache.lookup("  sure, ")
    assert hit is not None
    np.testing.assert_array_equal(hit, tone("Sure,"))
    assert cache.lookup("Sure.") is None  # another mark sounds different
    assert (cache.hits, cache.misses) == (1, 1)


async def test_the_background_fill_waits_for_the_engine_to_be_idle() -> None:
    lanes = GpuLanes()
    cache = StarterCache(("Sure,", "Yes,"))
    async with lanes.fast("reply"):
        task = asyncio.create_task(cache.fill_in_background(lanes, tone))
        await asyncio.sleep(0.12)
        assert cache.ready == 0  # refused while the fast lane holds the engine
        assert lanes.slow_refusals >= 1
    await asyncio.wait_for(task, 2)
    assert cache.ready == 2


@pytest.mark.parametrize("cached", [False, True])
async def test_the_reply_is_the_bridges_segments_spoken_in_order(cached: bool) -> None:
    marks: list[str] = []
    cache = None
    if cached:
        cache = StarterCache(("Sure,",))
        cache.fill(tone)
    tts = BridgedTTS(
        ENGINE,
        language="en",
        lanes=GpuLanes(),
        starter_cache=cache,
        trace_mark=lambda p, _t: marks.append(p),
    )
    deltas = ["Sure", ", I can", " help you with that", " booking today. Anything", " else?"]
    pcm = await speak(tts, deltas)
    bridge = TextBridge()
    segments = [s for d in deltas for s in bridge.push(d)] + bridge.flush()
    assert tts.segments == segments
    assert segments[0] == "Sure, "  # the starter
    # the starter from the cache is the opener as cached ("Sure,"), then the rest
    first = tone(segments[0].strip()) if cached else tone(segments[0])
    same_audio(pcm, [first, *(tone(s) for s in segments[1:])])
    assert marks[0] == "tts_request"
    assert ("starter_cache_hit" in marks) is cached
    if cache is not None:
        assert cache.hits == 1


async def test_the_gain_defect_makes_the_output_hotter() -> None:
    loud = BridgedTTS(ENGINE, language="en", lanes=GpuLanes(), gain_db=12.0)
    pcm = await speak(loud, ["Hello there."])
    ref = tone("Hello there.")
    assert np.abs(pcm.astype(float)).max() > 2 * np.abs(ref.astype(float)).max()


@dataclass(frozen=True)
class _Figures:
    text: str
    chunks: int

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


class _MeasuredTone(ToneEngine):
    """A tone engine that keeps its own figures of each call, as the qwen engine does."""

    last_metrics: _Figures | None = None

    def stream(self, text: str, *, language: str) -> Iterator[np.ndarray]:
        chunks = list(super().stream(text, language=language))
        self.last_metrics = _Figures(text, len(chunks))
        return iter(chunks)


async def test_the_engines_own_figures_of_each_segment_go_to_the_agents_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="agent.tts_bridged")
    tts = BridgedTTS(_MeasuredTone(), language="en", lanes=GpuLanes())
    await speak(tts, ["Sure", ", I can help. Anything else?"])
    expected = [
        {"text": s, "chunks": len(list(ENGINE.stream(s, language="en")))} for s in tts.segments
    ]
    assert len(expected) >= 2
    assert tts.engine_calls == expected
    logged = [r for r in caplog.records if r.getMessage() == "tts engine call"]
    assert [r.figures for r in logged] == expected  # type: ignore[attr-defined]
    plain = BridgedTTS(ENGINE, language="en", lanes=GpuLanes())  # keeps no figures: none logged
    await speak(plain, ["Hello there."])
    assert plain.engine_calls == []
