"""TTS engines: the small interface every speech synthesiser of the agent implements,
and the one registry that names them (pure: no engine is loaded until it is made).

This is the extension point for new engines. A GPU engine (e.g. a Qwen3 streaming
TTS) plugs in by implementing `TtsEngine` in its own module and adding one factory to
`TTS_ENGINES`; `autortc tts-regress --engine NAME` then gates it (determinism,
streamed vs offline, repeats, empty audio, TTFA) with no other change.

An engine is a provider, not a stream: it is made once and used for many texts.

- `synthesize(text, language=...)`: the whole text, offline; int16 mono at
  `sample_rate_hz`.
- `stream(text, language=...)`: the same text as the engine's own incremental output,
  chunks of int16 handed over as soon as the engine has them. The iterator is
  blocking (the agent runs it in a thread); closing it early stops the synthesis.
  Its chunks concatenate to (nearly) `synthesize`'s output.

Languages are ISO 639-1 codes ("en", "zh"); each engine maps them to its own voices
and raises `InputError` for one it lacks.

    engine = make_tts_engine("espeak")
    pcm_48k = engine.synthesize("Hello there.", language="en")
    for chunk in engine.stream("你好。", language="zh"):  # noqa: RUF003
        ...
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Protocol

import numpy as np

from autortc.errors import InputError

DEFAULT_TTS_ENGINE = "espeak"


class TtsEngine(Protocol):
    """A speech synthesiser: text in, int16 mono PCM at `sample_rate_hz` out."""

    name: str
    """The engine's registry name ("espeak", "tone")."""
    version: str
    """What produced the audio (library or model version), recorded with baselines."""
    sample_rate_hz: int
    """The output rate of `synthesize` and `stream` (48000 for the engines here)."""
    languages: tuple[str, ...]
    """The language codes the engine speaks ("en", "zh")."""

    def synthesize(self, text: str, *, language: str) -> np.ndarray:
        """The whole text, offline: int16 mono PCM (empty for empty text)."""
        ...

    def stream(self, text: str, *, language: str) -> Iterator[np.ndarray]:
        """The engine's incremental output: int16 chunks as soon as it has them."""
        ...


def _make_espeak(**kw: Any) -> TtsEngine:
    from agent.tts_espeak_engine import EspeakEngine

    return EspeakEngine(**kw)


def _make_tone(**kw: Any) -> TtsEngine:
    from agent.tts_tone import ToneEngine

    return ToneEngine(**kw)


def _make_qwen(**kw: Any) -> TtsEngine:
    from agent.tts_qwen.engine import make_qwen_engine

    try:
        return make_qwen_engine(**kw)
    except ModuleNotFoundError as e:  # torch and qwen_tts are imported when it is made
        raise InputError(
            f"TTS engine 'qwen' needs torch and qwen-tts (no module '{e.name}' here): "
            "run `make qwen-venv` and use .venv-qwen/bin/"
        ) from e


TTS_ENGINES: dict[str, Callable[..., TtsEngine]] = {
    "espeak": _make_espeak,  # espeak-ng (en-us, cmn), 22050 Hz resampled to 48 kHz
    "tone": _make_tone,  # deterministic tone bursts, one per syllable: for tests
    "qwen": _make_qwen,  # Qwen3-TTS 12 Hz, incremental decode (torch: make qwen-venv)
}


def make_tts_engine(name: str = DEFAULT_TTS_ENGINE, **kw: Any) -> TtsEngine:
    """The engine registered as `name`, made with `kw`. Unknown name: InputError."""
    factory = TTS_ENGINES.get(name)
    if factory is None:
        raise InputError(f"unknown TTS engine '{name}' (choose from {', '.join(TTS_ENGINES)})")
    try:
        return factory(**kw)
    except TypeError as e:  # an option this engine does not take (e.g. --engine-opt)
        if "unexpected keyword argument" not in str(e):
            raise
        raise InputError(f"TTS engine '{name}': {e}") from e


def check_language(engine: TtsEngine, language: str) -> None:
    """Raise InputError unless `engine` speaks `language`."""
    if language not in engine.languages:
        raise InputError(
            f"TTS engine '{engine.name}' has no language '{language}' "
            f"(choose from {', '.join(engine.languages)})"
        )
