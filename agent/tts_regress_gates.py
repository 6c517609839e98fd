"""The gates of `tts-regress`, judged on what the runner measured (pure: no clock, no files).

Each text of the fixed set is synthesised `runs` times offline and `runs` times
streamed. The gates are declared once, in `TTS_GATES`; a failure is data
(`autortc.gates.GateResult`), never an exception. Per text:

- `audio_ok`: every output (offline and streamed, every run) is int16, not empty, has
  no NaN/inf and is not all zero. Observed: how many are not.
- `deterministic`: each mode's PCM hash (SHA-256 of the int16 bytes) is the same in
  every run. Observed: the most distinct hashes of one mode (1 passes).
- `stream_snr_db`: the streamed audio against the offline one, aligned by
  cross-correlation (within `max_lag_ms`): >= `stream_snr_min_db`.
- `stream_duration_diff_ms`: |streamed - offline| duration <= `duration_diff_max_ms`.
- `repeated_segment_ms`: no stretch of `min_repeat_ms` or more immediately followed by
  a copy of itself, offline or streamed (`tts_regress_signal.find_repeated_segment`).
  Observed: the longest one found (0: none).
- `ttfa_p95_ms`: time to the first streamed chunk, P95 over the runs, <=
  `ttfa_p95_max_ms` (a run without any chunk fails it).

Against a baseline (`golden/tts_regress/<engine>.json`, made by `--update-baseline`):

- `hash_vs_baseline` (per text): both hashes equal the baseline's; a changed hash
  FAILs (the output changed); a text the baseline lacks is SKIP.
- `ttfa_vs_baseline`, `rtf_vs_baseline` (all texts): the run's TTFA P95 and offline
  RTF P50 against the baseline's; beyond `x ratio` and `+ floor` of it: WARN only
  (timing depends on the machine).

Exit codes follow `autortc.gates.overall_verdict`: any FAIL -> 1, else 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agent.tts_regress_registry import (
    AUDIO_OK,
    DETERMINISTIC,
    DURATION_DIFF,
    HASH_VS_BASELINE,
    REPEATED,
    RTF_VS_BASELINE,
    STREAM_SNR,
    TTFA,
    TTFA_VS_BASELINE,
    TtsGate,
    TtsThresholds,
)
from agent.tts_regress_signal import align, audio_problem, find_repeated_segment, pcm_sha256
from autortc.errors import CaseError
from autortc.gates import GateResult, Verdict
from autortc.metrics import stats


@dataclass(frozen=True)
class TextRuns:
    """What the runner measured for one text: one entry per run."""

    text_id: str
    language: str
    text: str
    sample_rate_hz: int
    offline: Sequence[np.ndarray]
    streamed: Sequence[np.ndarray]  # each run's chunks, concatenated
    chunks: Sequence[int]  # chunks per streamed run
    ttfa_ms: Sequence[float | None]  # None: the stream gave no chunk
    offline_rtf: Sequence[float | None]  # wall time / audio duration; None: no audio
    stream_rtf: Sequence[float | None]


@dataclass(frozen=True)
class TextFigures:
    """One text's figures, as summary.json and the table show them."""

    text_id: str
    language: str
    text: str
    duration_ms: float
    chunks: int
    offline_sha256: str
    stream_sha256: str
    ttfa_ms: list[float | None]  # per run
    rtf_runs: list[float | None]  # offline, per run
    ttfa_p50_ms: float | None
    ttfa_p95_ms: float | None
    rtf_p50: float | None
    stream_rtf_p50: float | None
    snr_db: float | None
    stream_lag_ms: float | None
    duration_diff_ms: float
    repeated_offline_ms: float
    repeated_stream_ms: float


def _gate(
    g: TtsGate, observed: float | None, threshold: float | None, ok: bool, scope: str, detail: str
) -> GateResult:
    verdict = Verdict.PASS if ok else Verdict.FAIL
    return GateResult(g.name, observed, threshold, verdict, None if ok else g.fix, scope, detail)


def _ms(samples: int, sample_rate_hz: int) -> float:
    return 1000.0 * samples / sample_rate_hz


def evaluate_text(r: TextRuns, thr: TtsThresholds) -> tuple[TextFigures, list[GateResult]]:
    """One text's figures and its six gates."""
    sr, scope = r.sample_rate_hz, r.text_id
    problems = [
        f"{mode} run {i + 1}: {p}"
        for mode, outs in (("offline", r.offline), ("streamed", r.streamed))
        for i, pcm in enumerate(outs)
        if (p := audio_problem(pcm)) is not None
    ]
    offline_hashes = [pcm_sha256(p) for p in r.offline]
    stream_hashes = [pcm_sha256(p) for p in r.streamed]
    distinct = max(len(set(offline_hashes)), len(set(stream_hashes)))
    offline, streamed = r.offline[0], r.streamed[0]
    aligned = None
    if not problems:
        aligned = align(offline, streamed, max_lag_samples=round(thr.max_lag_ms * sr / 1000))
    repeats = [
        find_repeated_segment(p, sr, min_repeat_ms=thr.min_repeat_ms) if not problems else None
        for p in (offline, streamed)
    ]
    rep_ms = [0.0 if s is None else s.length_ms for s in repeats]
    ttfa = list(r.ttfa_ms)
    ttfa_p95 = None if None in ttfa else stats.p95(ttfa)
    figures = TextFigures(
        text_id=r.text_id,
        language=r.language,
        text=r.text,
        duration_ms=_ms(len(offline), sr),
        chunks=int(r.chunks[0]),
        offline_sha256=offline_hashes[0],
        stream_sha256=stream_hashes[0],
        ttfa_ms=ttfa,
        rtf_runs=list(r.offline_rtf),
        ttfa_p50_ms=stats.median(ttfa),
        ttfa_p95_ms=ttfa_p95,
        rtf_p50=stats.median(r.offline_rtf),
        stream_rtf_p50=stats.median(r.stream_rtf),
        snr_db=None if aligned is None else aligned.snr_db,
        stream_lag_ms=None if aligned is None else _ms(aligned.lag_samples, sr),
        duration_diff_ms=_ms(abs(len(streamed) - len(offline)), sr),
        repeated_offline_ms=rep_ms[0],
        repeated_stream_ms=rep_ms[1],
    )
    where = [
        f"{mode} at {s.start_ms:.0f} ms, copy SNR {s.copy_snr_db:.0f} dB"
        for mode, s in zip(("offline", "streamed"), repeats, strict=True)
        if s is not None
    ]
    snr = figures.snr_db
    gates = [
        _gate(AUDIO_OK, float(len(problems)), 0.0, not problems, scope, "; ".join(problems)),
        _gate(
            DETERMINISTIC,
            float(distinct),
            1.0,
            distinct == 1,
            scope,
            f"offline {len(set(offline_hashes))}, streamed {len(set(stream_hashes))} "
            f"distinct over {len(offline_hashes)} runs",
        ),
        _gate(
            STREAM_SNR,
            snr,
            thr.stream_snr_min_db,
            snr is not None and snr >= thr.stream_snr_min_db,
            scope,
            f"lag {figures.stream_lag_ms:.1f} ms" if aligned else "nothing to compare",
        ),
        _gate(
            DURATION_DIFF,
            figures.duration_diff_ms,
            thr.duration_diff_max_ms,
            figures.duration_diff_ms <= thr.duration_diff_max_ms,
            scope,
            f"offline {figures.duration_ms:.0f} ms, streamed {_ms(len(streamed), sr):.0f} ms",
        ),
        _gate(
            REPEATED,
            max(rep_ms),
            float(thr.min_repeat_ms),
            not where,
            scope,
            "; ".join(where) or ("not checked: no usable audio" if problems else "none"),
        ),
        _gate(
            TTFA,
            ttfa_p95,
            thr.ttfa_p95_max_ms,
            ttfa_p95 is not None and ttfa_p95 <= thr.ttfa_p95_max_ms,
            scope,
            "a run gave no chunk" if ttfa_p95 is None else f"{len(ttfa)} runs",
        ),
    ]
    return figures, gates


class BaselineText(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    text: str
    language: str
    offline_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    stream_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class Baseline(BaseModel):
    """`golden/tts_regress/<engine>.json`: what a known-good run gave."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    engine: str
    version: str
    environment: dict[str, str] = Field(default_factory=dict)
    runs: int = Field(ge=1)
    ttfa_p50_ms: float | None = None
    ttfa_p95_ms: float | None = None
    rtf_p50: float | None = None
    texts: dict[str, BaselineText]


def parse_baseline(raw: object, path: str) -> Baseline:
    """Validate a baseline's JSON; errors name the file and the field (CaseError)."""
    try:
        return Baseline.model_validate(raw)
    except ValidationError as e:
        err = e.errors()[0]
        raise CaseError(path, ".".join(str(x) for x in err["loc"]) or "<root>", err["msg"]) from e


def make_baseline(
    engine: str, version: str, environment: dict[str, str], runs: int, figures: list[TextFigures]
) -> Baseline:
    """The baseline a passing run leaves (`--update-baseline`)."""
    ttfa = [t for f in figures for t in f.ttfa_ms]
    return Baseline(
        engine=engine,
        version=version,
        environment=environment,
        runs=runs,
        ttfa_p50_ms=stats.median(ttfa),
        ttfa_p95_ms=stats.p95(ttfa),
        rtf_p50=stats.median([x for f in figures for x in f.rtf_runs]),
        texts={
            f.text_id: BaselineText(
                text=f.text,
                language=f.language,
                offline_sha256=f.offline_sha256,
                stream_sha256=f.stream_sha256,
            )
            for f in figures
        },
    )


def _short(sha: str) -> str:
    return sha[:12]


def _hash_gate(f: TextFigures, base: Baseline) -> GateResult:
    b = base.texts.get(f.text_id)
    g, scope = HASH_VS_BASELINE, f.text_id
    if b is None:
        return GateResult(g.name, None, 0.0, Verdict.SKIP, None, scope, "not in the baseline")
    if (b.text, b.language) != (f.text, f.language):
        return _gate(g, None, 0.0, False, scope, "the text changed since the baseline was made")
    changed = [
        f"{mode} sha256 {_short(now)} != baseline {_short(then)}"
        for mode, now, then in (
            ("offline", f.offline_sha256, b.offline_sha256),
            ("streamed", f.stream_sha256, b.stream_sha256),
        )
        if now != then
    ]
    detail = "; ".join(changed) + " (the output changed)" if changed else "same output"
    return _gate(g, float(len(changed)), 0.0, not changed, scope, detail)


def _timing_gate(
    g: TtsGate, now: float | None, then: float | None, ratio: float, floor: float
) -> GateResult:
    """WARN when `now` is beyond both `then` x ratio and `then` + floor (the threshold)."""
    if now is None or then is None:
        return GateResult(g.name, now, None, Verdict.SKIP, None, "vs baseline", "not measured")
    limit = max(then * ratio, then + floor)
    slower = now > limit
    detail = f"baseline {then:.4g}; WARN beyond x{ratio:g} and +{floor:g} of it"
    verdict = Verdict.WARN if slower else Verdict.PASS
    return GateResult(g.name, now, limit, verdict, g.fix if slower else None, "vs baseline", detail)


def compare_with_baseline(
    figures: list[TextFigures], base: Baseline, thr: TtsThresholds, *, environment: dict[str, str]
) -> list[GateResult]:
    """The baseline gates: one hash gate per text, then TTFA and RTF (WARN only)."""
    gates = [_hash_gate(f, base) for f in figures]
    differs = sorted(k for k, v in environment.items() if base.environment.get(k) != v)
    if differs and any(g.verdict == Verdict.FAIL for g in gates):
        note = f"; the baseline was made with other {', '.join(differs)}"
        gates = [
            GateResult(g.name, g.observed, g.threshold, g.verdict, g.fix, g.scope, g.detail + note)
            if g.verdict == Verdict.FAIL
            else g
            for g in gates
        ]
    ttfa = [t for f in figures for t in f.ttfa_ms]
    gates.append(
        _timing_gate(
            TTFA_VS_BASELINE,
            stats.p95(ttfa),
            base.ttfa_p95_ms,
            thr.ttfa_warn_ratio,
            thr.ttfa_warn_floor_ms,
        )
    )
    gates.append(
        _timing_gate(
            RTF_VS_BASELINE,
            stats.median([x for f in figures for x in f.rtf_runs]),
            base.rtf_p50,
            thr.rtf_warn_ratio,
            thr.rtf_warn_floor,
        )
    )
    return gates
