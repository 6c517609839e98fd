"""`tts-regress`'s measuring: one text through an engine, timed by an injected clock.

- `measure_text`: `runs` offline syntheses (wall time over audio duration: the RTF)
  and `runs` streamed ones (TTFA: from the `stream` call to its first chunk).
- `engine_runs`: what the engine's optional methods say of the same text
  (`agent.tts_regress_engine`): its stated stream tolerance, its CUDA-graphs variant's
  hashes (the variant synthesises the text once per mode), its counters' increase.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from agent.tts_engines import TtsEngine
from agent.tts_regress_engine import EngineRuns, counters_since
from agent.tts_regress_gates import TextRuns
from agent.tts_regress_signal import pcm_sha256

NsClock = Callable[[], int]


class TextCase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[A-Za-z0-9_]{1,40}$")
    language: str = Field(pattern=r"^[a-z]{2}$")
    text: str = Field(min_length=1)


def measure_text(engine: TtsEngine, case: TextCase, *, runs: int, clock: NsClock) -> TextRuns:
    """Synthesise one text `runs` times offline and streamed, timing both."""
    offline: list[np.ndarray] = []
    streamed: list[np.ndarray] = []
    chunks: list[int] = []
    ttfa_ms: list[float | None] = []
    offline_rtf: list[float | None] = []
    stream_rtf: list[float | None] = []
    sr = engine.sample_rate_hz

    def rtf(wall_ns: int, pcm: np.ndarray) -> float | None:
        return wall_ns / 1e9 / (len(pcm) / sr) if len(pcm) else None

    for _ in range(runs):
        t0 = clock()
        pcm = np.asarray(engine.synthesize(case.text, language=case.language))
        offline_rtf.append(rtf(clock() - t0, pcm))
        offline.append(pcm)

        parts: list[np.ndarray] = []
        first_ns: int | None = None
        t0 = clock()
        for chunk in engine.stream(case.text, language=case.language):
            if first_ns is None:
                first_ns = clock() - t0
            parts.append(np.asarray(chunk))
        wall_ns = clock() - t0
        joined = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int16)
        streamed.append(joined)
        chunks.append(len(parts))
        ttfa_ms.append(None if first_ns is None else first_ns / 1e6)
        stream_rtf.append(rtf(wall_ns, joined))
    return TextRuns(
        text_id=case.id,
        language=case.language,
        text=case.text,
        sample_rate_hz=sr,
        offline=offline,
        streamed=streamed,
        chunks=chunks,
        ttfa_ms=ttfa_ms,
        offline_rtf=offline_rtf,
        stream_rtf=stream_rtf,
    )


def engine_counters(engine: TtsEngine) -> dict[str, int]:
    counters = getattr(engine, "counters", None)
    return dict(counters()) if counters is not None else {}


def graphs_variant(engine: TtsEngine) -> tuple[TtsEngine | None, str]:
    """The engine's CUDA-graphs variant and what it is, or None and why not."""
    make = getattr(engine, "graphs_variant", None)
    if make is None:
        return None, f"engine '{engine.name}' has no CUDA graphs"
    variant, note = make()
    return variant, str(note)


def engine_runs(
    engine: TtsEngine,
    case: TextCase,
    measured: TextRuns,
    variant: tuple[TtsEngine | None, str],
    counters_before: dict[str, int],
) -> EngineRuns:
    """What the engine's optional methods say of one text (the variant synthesises it)."""
    tolerance = getattr(engine, "stream_tolerance", None)
    hashes = (pcm_sha256(measured.offline[0]), pcm_sha256(measured.streamed[0]))
    added = counters_since(counters_before, engine_counters(engine))
    other, note = variant
    variant_hashes = None
    if other is not None:
        offline = other.synthesize(case.text, language=case.language)
        parts = [np.asarray(c) for c in other.stream(case.text, language=case.language)]
        streamed = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int16)
        variant_hashes = (pcm_sha256(np.asarray(offline)), pcm_sha256(streamed))
    return EngineRuns(
        text_id=case.id,
        offline=measured.offline[0],
        streamed=measured.streamed[0],
        tolerance=None if tolerance is None else tolerance(case.text, language=case.language),
        variant_note=note,
        variant_hashes=variant_hashes,
        hashes=hashes,
        counters=added,
    )
