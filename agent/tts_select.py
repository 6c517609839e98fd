"""Which TTS a room's session gets: the engine, the text path and the starter cache.

- `text_bridge=True` (default): `BridgedTTS` (agent/tts_bridged.py) on the worker's
  engine (`--tts espeak|tone`, agent/tts_engines.py), with the starter cache when on;
  the room's voice picks the language ("cmn" -> zh, else en).
- `text_bridge=False`: the sentence path, espeak only (`EspeakTTS` wrapped by
  livekit-agents' sentence `StreamAdapter`): the comparison point for the bridge.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

import numpy as np
from livekit.agents import tts

from agent.gpu_lanes import GpuLanes
from agent.starter_cache import StarterCache
from agent.tts_bridged import BridgedTTS
from agent.tts_engines import TtsEngine, make_tts_engine
from agent.tts_espeak import EspeakTTS
from autortc.errors import InputError
from autortc.espeak import EspeakSynth

TraceMark = Callable[[str, int], None]
CACHED_LANGUAGES = ("en",)  # the openers are English


def _synthesize(engine: TtsEngine, language: str, text: str) -> np.ndarray:
    return engine.synthesize(text, language=language)


def language_of(voice: str) -> str:
    return "zh" if voice.lower().startswith(("cmn", "zh")) else "en"


@dataclass
class TtsWorkerState:
    """What a worker process keeps for its rooms' TTS (made once, at start-up)."""

    engine: TtsEngine
    synth: EspeakSynth
    caches: dict[str, StarterCache] = field(default_factory=dict)

    @classmethod
    def create(
        cls, name: str, *, synth: EspeakSynth, rate_wpm: int, starter_cache: bool
    ) -> TtsWorkerState:
        kw = {"synth": synth, "rate_wpm": rate_wpm} if name == "espeak" else {}
        state = cls(engine=make_tts_engine(name, **kw), synth=synth)
        if starter_cache:
            for lang in CACHED_LANGUAGES:
                cache = StarterCache()
                cache.fill(partial(_synthesize, state.engine, lang))
                state.caches[lang] = cache
        return state


def make_tts(
    state: TtsWorkerState,
    *,
    voice: str,
    rate_wpm: int,
    lanes: GpuLanes,
    text_bridge: bool,
    trace_mark: TraceMark | None,
    gain_db: float,
) -> tts.TTS[None]:
    if not text_bridge:
        if state.engine.name != "espeak":
            raise InputError(
                f"--no-text-bridge is the espeak sentence path, not {state.engine.name}"
            )
        return EspeakTTS(
            state.synth, voice=voice, rate_wpm=rate_wpm, trace_mark=trace_mark, gain_db=gain_db
        )
    lang = language_of(voice)
    return BridgedTTS(
        state.engine,
        language=lang,
        lanes=lanes,
        starter_cache=state.caches.get(lang),
        trace_mark=trace_mark,
        gain_db=gain_db,
    )
