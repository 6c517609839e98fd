"""What one `synthesize` or `stream` call of the Qwen engine cost (pure: no clock).

The engine takes the timestamps (`clock_ns`, injected) and this module turns them into
figures, all in milliseconds:

- `ttfa_ms`: from the call to its first 48 kHz chunk (stream), or to the whole
  output (offline: that is when its first audio exists).
- `rtf`: the engine's own time over the audio's duration (the consumer's time between
  chunks left out).
- `codegen_iter_wall_ms`: per frame, the talker step and code predictor that made it
  (the first one includes the prompt and the prefill).
- `decode_wall_total_ms`: the codec decoder, every packet (or the offline pass).
- `glue_ms`: the rest of the engine's time: int16 conversion, resampling, Python.
- `consumer_wait_ms`: (stream) time the caller held a chunk before asking for the next.
- `graph_fallbacks`: per reason, calls that ran eagerly although CUDA graphs were on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

NS_PER_MS = 1e6


@dataclass(frozen=True)
class QwenCallMetrics:
    mode: str  # "offline" | "stream"
    weights: str  # says RANDOM WEIGHTS when they are
    completed: bool  # False: the stream was closed early
    frames: int
    packets: int
    audio_ms: float
    wall_ms: float
    ttfa_ms: float | None
    rtf: float | None
    codegen_iter_wall_ms: tuple[float, ...]
    decode_wall_total_ms: float
    glue_ms: float
    consumer_wait_ms: float
    graph_fallbacks: Mapping[str, int] = field(default_factory=dict)

    @property
    def codegen_wall_total_ms(self) -> float:
        return sum(self.codegen_iter_wall_ms)

    def as_dict(self) -> dict[str, object]:
        """JSON-ready (tuples as lists), with the codegen total."""
        return {
            "mode": self.mode,
            "weights": self.weights,
            "completed": self.completed,
            "frames": self.frames,
            "packets": self.packets,
            "audio_ms": self.audio_ms,
            "wall_ms": self.wall_ms,
            "ttfa_ms": self.ttfa_ms,
            "rtf": self.rtf,
            "codegen_iter_wall_ms": list(self.codegen_iter_wall_ms),
            "codegen_wall_total_ms": self.codegen_wall_total_ms,
            "decode_wall_total_ms": self.decode_wall_total_ms,
            "glue_ms": self.glue_ms,
            "consumer_wait_ms": self.consumer_wait_ms,
            "graph_fallbacks": dict(self.graph_fallbacks),
        }


def call_metrics(
    *,
    mode: str,
    weights: str,
    completed: bool,
    start_ns: int,
    end_ns: int,
    first_audio_ns: int | None,
    frame_ns: Sequence[int],
    decode_ns: int,
    consumer_ns: int,
    samples: int,
    sample_rate_hz: int,
    packets: int,
    graph_fallbacks: Mapping[str, int],
) -> QwenCallMetrics:
    """The figures of one call from its timestamps and durations (all in ns)."""
    wall_ns = end_ns - start_ns
    busy_ns = wall_ns - consumer_ns
    audio_ms = 1000.0 * samples / sample_rate_hz
    return QwenCallMetrics(
        mode=mode,
        weights=weights,
        completed=completed,
        frames=len(frame_ns),
        packets=packets,
        audio_ms=audio_ms,
        wall_ms=wall_ns / NS_PER_MS,
        ttfa_ms=None if first_audio_ns is None else (first_audio_ns - start_ns) / NS_PER_MS,
        rtf=busy_ns / NS_PER_MS / audio_ms if samples else None,
        codegen_iter_wall_ms=tuple(ns / NS_PER_MS for ns in frame_ns),
        decode_wall_total_ms=decode_ns / NS_PER_MS,
        glue_ms=(busy_ns - sum(frame_ns) - decode_ns) / NS_PER_MS,
        consumer_wait_ms=consumer_ns / NS_PER_MS,
        graph_fallbacks={k: v for k, v in graph_fallbacks.items() if v},
    )
