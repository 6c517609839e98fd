"""The gates an engine opts into, and the counters it reports (pure: no clock, no engine).

Beyond the six gates every engine gets (`agent.tts_regress_gates`), an engine may say
more about itself through three optional methods, which the runner (`agent.tts_regress`)
calls where they exist:

- `stream_tolerance(text, language=...) -> StreamTolerance`: how far its stream may
  differ from its offline output, in int16 LSB, and why. Judged here as
  `stream_vs_offline_lsb` on the first run of each mode. For an engine whose offline
  output is one decode of the same codes its stream decodes packet by packet (qwen),
  this is "streamed PCM against offline decoding of the same codes".
- `graphs_variant() -> (engine | None, note)`: the same engine with its CUDA graphs
  switched the other way (sharing the weights), or None and the reason there is none
  here. Judged as `graphs_on_vs_off`: the variant's offline and streamed hashes
  against this engine's.
- `counters() -> {name: count}`: cumulative counts (qwen: eager runs while graphs were
  on, by reason). Each text reports what its runs added; they are figures, not gates.

An engine with none of them gets both gates as SKIP, with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from agent.tts_regress_registry import GRAPHS_ON_VS_OFF, STREAM_LSB, StreamTolerance, TtsGate
from autortc.gates import GateResult, Verdict


@dataclass(frozen=True)
class EngineRuns:
    """What the runner gathered for one text from the engine's optional methods."""

    text_id: str
    offline: np.ndarray  # the first offline run
    streamed: np.ndarray  # the first streamed run, its chunks concatenated
    tolerance: StreamTolerance | None  # None: the engine states none
    variant_note: str  # what the variant is ("CUDA graphs on"), or why there is none
    variant_hashes: tuple[str, str] | None  # the variant's (offline, streamed) sha256
    hashes: tuple[str, str]  # this engine's (offline, streamed) sha256, first run
    counters: dict[str, int] = field(default_factory=dict)  # added by this text's runs


@dataclass(frozen=True)
class EngineFigures:
    """One text's engine figures, as summary.json shows them."""

    stream_max_lsb: int | None  # None: not comparable (lengths differ, or no audio)
    stream_differing_samples: int | None
    samples: int
    counters: dict[str, int]


def counters_since(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    """What each counter added between two snapshots (unchanged ones left out)."""
    return {k: v - before.get(k, 0) for k, v in sorted(after.items()) if v != before.get(k, 0)}


def _result(
    g: TtsGate,
    observed: float | None,
    threshold: float | None,
    ok: bool | None,  # None: SKIP
    scope: str,
    detail: str,
) -> GateResult:
    if ok is None:
        return GateResult(g.name, observed, threshold, Verdict.SKIP, None, scope, detail)
    verdict = Verdict.PASS if ok else Verdict.FAIL
    return GateResult(g.name, observed, threshold, verdict, None if ok else g.fix, scope, detail)


def _as_int16(pcm: np.ndarray) -> np.ndarray | None:
    return pcm if pcm.dtype == np.int16 and len(pcm) else None


def stream_lsb(offline: np.ndarray, streamed: np.ndarray) -> tuple[int, int] | None:
    """(max |difference| in LSB, samples that differ); None when not comparable."""
    a, b = _as_int16(offline), _as_int16(streamed)
    if a is None or b is None or a.shape != b.shape:
        return None
    diff = np.abs(a.astype(np.int32) - b.astype(np.int32))
    return int(diff.max()), int(np.count_nonzero(diff))


def evaluate_engine(r: EngineRuns) -> tuple[EngineFigures, list[GateResult]]:
    """One text's engine figures and its two opt-in gates."""
    scope = r.text_id
    lsb = stream_lsb(r.offline, r.streamed)
    figures = EngineFigures(
        stream_max_lsb=None if lsb is None else lsb[0],
        stream_differing_samples=None if lsb is None else lsb[1],
        samples=len(r.offline),
        counters=dict(r.counters),
    )
    tol = r.tolerance
    if tol is None:
        stream = _result(STREAM_LSB, None, None, None, scope, "the engine states no tolerance")
    elif lsb is None:
        detail = f"not comparable: offline {len(r.offline)}, streamed {len(r.streamed)} samples"
        stream = _result(STREAM_LSB, None, float(tol.max_lsb), False, scope, detail)
    else:
        detail = f"{lsb[1]} of {len(r.offline)} samples differ; stated: {tol.reason}"
        ok = lsb[0] <= tol.max_lsb
        stream = _result(STREAM_LSB, float(lsb[0]), float(tol.max_lsb), ok, scope, detail)
    if r.variant_hashes is None:
        graphs = _result(GRAPHS_ON_VS_OFF, None, 0.0, None, scope, r.variant_note)
    else:
        modes = ("offline", "streamed")
        differ = [m for m, a, b in zip(modes, r.hashes, r.variant_hashes, strict=True) if a != b]
        detail = f"against {r.variant_note}: " + (
            ", ".join(differ) + " differ" if differ else "same"
        )
        graphs = _result(GRAPHS_ON_VS_OFF, float(len(differ)), 0.0, not differ, scope, detail)
    return figures, [stream, graphs]
