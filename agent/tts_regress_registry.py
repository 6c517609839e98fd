"""`tts-regress`'s gates, declared once (`TTS_GATES`), and their thresholds (pure).

Every gate any text or baseline comparison reports is one `TtsGate` here; the judging
lives in `agent.tts_regress_gates` (the six per-text gates and the baseline's) and
`agent.tts_regress_engine` (the two an engine opts into by stating what it promises):

- `stream_vs_offline_lsb`: the streamed int16 PCM against the offline one, sample by
  sample, at the output rate: max |difference| in LSB <= the engine's stated
  tolerance (`StreamTolerance`: 0 means bit for bit; anything above carries the
  reason equality cannot hold). An engine that states none is SKIP (the SNR gate
  still judges it).
- `graphs_on_vs_off`: the same texts through the engine with its CUDA graphs switched
  the other way give the same offline and streamed hashes. SKIP, with the reason,
  where the engine has no graphs or no CUDA device is here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TtsGate:
    name: str
    unit: str
    definition: str
    fix: str


AUDIO_OK = TtsGate(
    "audio_ok",
    "outputs",
    "outputs that are empty, NaN, not int16 or all zero",
    "the engine returned no usable audio for this text: check its voice/language and its errors",
)
DETERMINISTIC = TtsGate(
    "deterministic",
    "hashes",
    "distinct PCM hashes of one mode over the runs",
    "the engine is not a pure function of the text: seed it or reset its state per call",
)
STREAM_SNR = TtsGate(
    "stream_snr_db",
    "dB",
    "SNR of the streamed audio against the offline one, aligned",
    "streamed audio differs from offline: check chunk boundaries and the streaming resampler",
)
DURATION_DIFF = TtsGate(
    "stream_duration_diff_ms",
    "ms",
    "|streamed - offline| duration",
    "streaming drops or adds audio: check the last chunk (resampler flush) and early stops",
)
REPEATED = TtsGate(
    "repeated_segment_ms",
    "ms",
    "longest stretch immediately followed by a copy of itself",
    "a chunk is emitted twice: check the stream's buffering and retry logic",
)
TTFA = TtsGate(
    "ttfa_p95_ms",
    "ms",
    "time from the stream call to its first chunk, P95 over the runs",
    "the engine's first audio is slow: stream smaller first chunks or warm the engine up",
)
HASH_VS_BASELINE = TtsGate(
    "hash_vs_baseline",
    "hashes",
    "offline/streamed PCM hashes that differ from the baseline",
    "the output changed: listen to it; if intended, rerun with --update-baseline",
)
TTFA_VS_BASELINE = TtsGate(
    "ttfa_vs_baseline",
    "ms",
    "TTFA P95 over all texts and runs, against the baseline's",
    "first audio got slower than the baseline: profile the engine's start",
)
RTF_VS_BASELINE = TtsGate(
    "rtf_vs_baseline",
    "ratio",
    "offline RTF P50 over all texts and runs, against the baseline's",
    "synthesis got slower than the baseline: profile the engine",
)

STREAM_LSB = TtsGate(
    "stream_vs_offline_lsb",
    "LSB",
    "max |streamed - offline| int16 sample difference, against the engine's stated tolerance",
    "streaming changes the samples beyond what the engine promises: check the packet "
    "decoder's context and the resampler's boundaries",
)
GRAPHS_ON_VS_OFF = TtsGate(
    "graphs_on_vs_off",
    "modes",
    "modes (offline, streamed) whose hash differs between CUDA graphs on and off",
    "a graph replays something else than the eager code: check static buffers "
    "(copy_ into them, clone the output) and capture after warm-up",
)

TTS_GATES = (
    AUDIO_OK,
    DETERMINISTIC,
    STREAM_SNR,
    DURATION_DIFF,
    REPEATED,
    TTFA,
    STREAM_LSB,
    GRAPHS_ON_VS_OFF,
    HASH_VS_BASELINE,
    TTFA_VS_BASELINE,
    RTF_VS_BASELINE,
)
BASELINE_GATES = (HASH_VS_BASELINE, TTFA_VS_BASELINE, RTF_VS_BASELINE)


@dataclass(frozen=True)
class TtsThresholds:
    stream_snr_min_db: float = 15.0
    duration_diff_max_ms: float = 500.0
    min_repeat_ms: int = 200
    ttfa_p95_max_ms: float = 350.0
    max_lag_ms: float = 500.0  # how far the alignment looks for the streamed audio's lag
    ttfa_warn_ratio: float = 1.5  # WARN beyond baseline x ratio ...
    ttfa_warn_floor_ms: float = 20.0  # ... and beyond baseline + floor
    rtf_warn_ratio: float = 1.5
    rtf_warn_floor: float = 0.02


@dataclass(frozen=True)
class StreamTolerance:
    """What an engine promises of its stream against its offline output, per text."""

    max_lsb: int  # 0: bit for bit
    reason: str  # why (equality, or why it cannot hold)
