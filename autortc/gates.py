"""Gates: thresholds (GatesConfig), evaluation over a suite's case rows, verdict.

A gate failure is data (`GateResult`), never an exception.

Rows are `AttemptMetrics.to_dict()` dicts (one per attempt). Per case only the last
attempt (highest `attempt`) counts. A case whose last attempt is still
infrastructure-failed (BARRIER_TIMEOUT, AGENT_NOT_JOINED, BOT_CRASHED, TIMEOUT) yields
the `infrastructure` gate's INFRA and is left out of every other gate.
POST_SILENT after its retry is not infra: it fails `audio_valid_rate`.

Scoping: each of the 8 suite gates is judged on the P0 rows (PASS / FAIL / SKIP) and
again on the P1 rows, where a violation is only WARN (scope "P1"). The PRIMARY_KPI
regression gate is P0 only. Fingerprints (boom, speed drift, distortion) are WARN only.
SKIP: no value to judge (e.g. fast_lane_ttft without an agent trace, no baseline).

Verdict precedence (`overall_verdict`): any FAIL -> FAIL, exit 1; else any INFRA ->
INFRA, exit 2; else PASS, exit 0. WARN and SKIP never change the exit code. A FAIL
wins over INFRA because it is a finding about the agent that a rerun would not fix.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from autortc.errors import EXIT_FAIL, EXIT_INFRA, EXIT_PASS, CaseError
from autortc.metrics.inputs import INFRA_STATUSES

DEFAULT_GATES_PATH = Path(__file__).with_name("gates_default.yaml")


class GatesConfig(BaseModel):
    """Thresholds; defaults are the spec's table (see gates_default.yaml)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    eot_to_first_audio_p95_ms: float = Field(default=650.0, gt=0)
    tts_first_to_publish_p95_ms: float = Field(default=120.0, gt=0)
    audible_dropout_max: int = Field(default=0, ge=0)
    max_gap_ms: float = Field(default=350.0, gt=0)
    clipping_ratio_max: float = Field(default=0.001, gt=0, le=1)
    fast_lane_ttft_p95_ms: float = Field(default=80.0, gt=0)
    audio_valid_rate_min: float = Field(default=1.0, gt=0, le=1)
    inter_arrival_p95_ms: float = Field(default=30.0, gt=0)
    kpi_regression_ms: float = Field(default=30.0, ge=0)
    warn_drift_fraction: float = Field(default=0.02, gt=0, lt=1)
    warn_hf_ratio_drop: float = Field(default=0.5, gt=0, le=1)
    warn_input_spike_count: int = Field(default=0, ge=0)


def load_gates(path: str | Path | None = None) -> GatesConfig:
    """Load a gates YAML file (default: the packaged defaults). Errors name file and field."""
    p = Path(path) if path is not None else DEFAULT_GATES_PATH
    try:
        raw = yaml.safe_load(p.read_text(encoding="utf-8"))
    except OSError as e:
        raise CaseError(str(p), "<file>", f"cannot read: {e.strerror or e}") from e
    except yaml.YAMLError as e:
        raise CaseError(str(p), "<file>", f"invalid YAML: {e}") from e
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise CaseError(str(p), "<root>", "expected a mapping of gate name -> threshold")
    try:
        return GatesConfig.model_validate(raw)
    except ValidationError as e:
        err = e.errors()[0]
        field = ".".join(str(x) for x in err["loc"]) or "<root>"
        raise CaseError(str(p), field, err["msg"]) from e


@dataclass(frozen=True)
class GateResult:
    name: str
    observed: float | None
    threshold: float | None
    verdict: str  # "PASS" | "FAIL" | "WARN" | "SKIP" | "INFRA"
    fix: str | None
    scope: str  # "P0" | "P1" | "all" | "vs baseline"
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


FIXES: dict[str, str] = {
    "eot_to_first_audio_p95": "Find the slow stage: compare agent_eot_to_first_audio_ms, fast_lane_ttft_ms and "
    "tts_first_to_publish_ms per turn (endpointing hangover, LLM TTFT, TTS first chunk); "
    "then check the user bot's send queue (AudioSource.queued_duration).",
    "tts_first_to_publish_p95": "Check the path from the TTS engine to AudioSource.capture_frame: publish the first "
    "chunk at once (no full-sentence buffering), check resampling and chunk pacing.",
    "audible_dropout": "Compare pre_rtc.wav with post_rtc_reply.wav at the dropped frames; check inter_arrival_p95_ms, "
    "the AudioSource queue and packet loss on the agent's uplink.",
    "max_gap": "Check the TTS chunk pacing and the AudioSource queue, and compare added_gap_ms with max_gap_ms "
    "(equal: the network added the gap; smaller: the pause is in the agent's own audio).",
    "clipping_ratio": "Lower the TTS output gain or add a limiter before publishing; check pre_rtc.wav for clipping "
    "to tell the agent from the transport.",
    "fast_lane_ttft_p95": "Cut LLM time to first token: keep the connection warm, stream tokens, use a faster model "
    "or a shorter prompt for the first sentence.",
    "audio_valid_rate": "POST_SILENT: check the barrier and the agent track publication (agent_ready only after the "
    "track is published and the session started).",
    "inter_arrival_p95": "Check the agent's frame pacing: publish 10 ms frames from one task at real-time pace, avoid "
    "blocking the event loop (CPU-bound TTS/VAD in a thread); check network jitter.",
    "primary_kpi_regression": "Compare per-stage latencies with the baseline's metrics.csv (agent_eot_to_first_audio_ms, "
    "fast_lane_ttft_ms, tts_first_to_publish_ms) to find the stage that regressed; rerun to rule out noise if the CI "
    "includes 0.",
    "infrastructure": "Rerun the failed cases; check the LiveKit server, agent dispatch (room prefix), the bot logs "
    "and the barrier timeout.",
    "fp_boom": "The input has spikes: listen to post_rtc_reply.wav for a boom and check the agent's VAD/AGC/echo "
    "handling of clicks.",
    "fp_speed_drift": "Reply duration differs between pre_rtc and the probe: check sample-rate conversions (TTS rate "
    "vs 48 kHz) and jitter-buffer time stretching.",
    "fp_distortion": "4-8 kHz energy was lost: check resampling / low-pass in the TTS path (8 or 16 kHz voices) and "
    "the codec bandwidth and bitrate.",
}


def _p95(values: Sequence[float]) -> float:
    return float(np.percentile(np.asarray(values, dtype=np.float64), 95, method="linear"))


def _final_rows(rows: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    last: dict[str, Mapping[str, Any]] = {}
    for r in rows:
        cid = str(r.get("case_id"))
        if cid not in last or int(r.get("attempt", 1)) >= int(last[cid].get("attempt", 1)):
            last[cid] = r
    return list(last.values())


def _vals(rows: Sequence[Mapping[str, Any]], key: str, *, level: str) -> list[tuple[str, float]]:
    """(case_id, value) pairs; level: 'row' (first reply), 'replies' or 'turns'."""
    out: list[tuple[str, float]] = []
    for r in rows:
        items = [r] if level == "row" else list(r.get(level) or [])
        for it in items:
            v = it.get(key)
            if v is not None:
                out.append((str(r.get("case_id")), float(v)))
    return out


# (name, key, level, aggregate, threshold attr, comparison)
_Spec = tuple[str, str, str, str, str, Callable[[float, float], bool]]
_le: Callable[[float, float], bool] = lambda o, t: o <= t  # noqa: E731
_lt: Callable[[float, float], bool] = lambda o, t: o < t  # noqa: E731
SUITE_GATES: tuple[_Spec, ...] = (
    (
        "eot_to_first_audio_p95",
        "eot_to_first_audio_ms",
        "row",
        "p95",
        "eot_to_first_audio_p95_ms",
        _le,
    ),
    (
        "tts_first_to_publish_p95",
        "tts_first_to_publish_ms",
        "turns",
        "p95",
        "tts_first_to_publish_p95_ms",
        _le,
    ),
    ("audible_dropout", "audible_dropout", "replies", "max", "audible_dropout_max", _le),
    ("max_gap", "max_gap_ms", "replies", "max", "max_gap_ms", _lt),
    ("clipping_ratio", "clipping_ratio", "replies", "max", "clipping_ratio_max", _lt),
    ("fast_lane_ttft_p95", "fast_lane_ttft_ms", "turns", "p95", "fast_lane_ttft_p95_ms", _le),
    ("inter_arrival_p95", "inter_arrival_p95_ms", "replies", "p95", "inter_arrival_p95_ms", _le),
)


def _judge(
    spec: _Spec, rows: Sequence[Mapping[str, Any]], config: GatesConfig, *, scope: str
) -> GateResult:
    name, key, level, agg, attr, ok = spec
    thr = float(getattr(config, attr))
    pairs = _vals(rows, key, level=level)
    bad_verdict = "FAIL" if scope == "P0" else "WARN"
    if not pairs:
        why = "the agent gives no trace" if level == "turns" else "no value measured"
        return GateResult(name, None, thr, "SKIP", None, scope, f"SKIP: {why} ({len(rows)} cases)")
    values = [v for _, v in pairs]
    observed = _p95(values) if agg == "p95" else max(values)
    passed = ok(observed, thr)
    if agg == "max":
        offenders = sorted({c for c, v in pairs if not ok(v, thr)})
    else:
        offenders = sorted({c for c, v in pairs if not ok(v, thr)})
    detail = f"{agg} over {len(values)} values from {len(rows)} cases"
    if offenders:
        detail += "; over threshold: " + ", ".join(offenders)
    return GateResult(
        name,
        round(observed, 6),
        thr,
        "PASS" if passed else bad_verdict,
        None if passed else FIXES[name],
        scope,
        detail,
    )


def _valid_rate(
    rows: Sequence[Mapping[str, Any]], config: GatesConfig, *, scope: str
) -> GateResult:
    thr = config.audio_valid_rate_min
    if not rows:
        return GateResult(
            "audio_valid_rate", None, thr, "SKIP", None, scope, "SKIP: no measured cases"
        )
    valid = [bool(r.get("audio_valid")) for r in rows]
    rate = sum(valid) / len(valid)
    bad = sorted(str(r.get("case_id")) for r, v in zip(rows, valid, strict=True) if not v)
    passed = rate >= thr
    verdict = "PASS" if passed else ("FAIL" if scope == "P0" else "WARN")
    detail = f"{sum(valid)}/{len(valid)} cases valid" + (
        f"; invalid: {', '.join(bad)}" if bad else ""
    )
    return GateResult(
        "audio_valid_rate",
        round(rate, 6),
        thr,
        verdict,
        None if passed else FIXES["audio_valid_rate"],
        scope,
        detail,
    )


def _fingerprints(rows: Sequence[Mapping[str, Any]], config: GatesConfig) -> list[GateResult]:
    out: list[GateResult] = []
    specs = (
        ("fp_boom", "fp_boom_warn", "input_spike_count", float(config.warn_input_spike_count)),
        ("fp_speed_drift", "fp_speed_drift_warn", "drift_ratio", config.warn_drift_fraction),
        ("fp_distortion", "fp_distortion_warn", "hf_ratio_drop", config.warn_hf_ratio_drop),
    )
    for name, flag, key, thr in specs:
        flagged = [r for r in rows if r.get(flag)]
        vals = [float(r[key]) for r in rows if r.get(key) is not None]
        if not vals:
            out.append(GateResult(name, None, thr, "SKIP", None, "all", "SKIP: not measured"))
            continue
        observed = max(abs(1.0 - v) for v in vals) if key == "drift_ratio" else max(vals)
        detail = f"{len(flagged)}/{len(rows)} cases flagged"
        if flagged:
            detail += ": " + ", ".join(sorted(str(r.get("case_id")) for r in flagged))
        out.append(
            GateResult(
                name,
                round(observed, 6),
                thr,
                "WARN" if flagged else "PASS",
                FIXES[name] if flagged else None,
                "all",
                detail,
            )
        )
    return out


def evaluate_gates(
    case_rows: Sequence[Mapping[str, Any]],
    *,
    config: GatesConfig | None = None,
    kpi_delta_ms: float | None = None,
) -> list[GateResult]:
    """Judge a suite. `kpi_delta_ms` is PRIMARY_KPI - baseline (None: no baseline -> SKIP)."""
    cfg = config or GatesConfig()
    finals = _final_rows(case_rows)
    infra = [r for r in finals if r.get("capture_status") in INFRA_STATUSES]
    measured = [r for r in finals if r.get("capture_status") not in INFRA_STATUSES]
    p0 = [r for r in measured if r.get("priority", "P0") == "P0"]
    p1 = [r for r in measured if r.get("priority", "P0") != "P0"]

    results: list[GateResult] = []
    if infra:
        names = ", ".join(f"{r.get('case_id')}={r.get('capture_status')}" for r in infra)
        results.append(
            GateResult(
                "infrastructure",
                float(len(infra)),
                0.0,
                "INFRA",
                FIXES["infrastructure"],
                "all",
                f"still infrastructure-failed after retry: {names}",
            )
        )
    else:
        results.append(
            GateResult(
                "infrastructure", 0.0, 0.0, "PASS", None, "all", f"{len(finals)} cases measured"
            )
        )
    for scope, rows in (("P0", p0), ("P1", p1)):
        if scope == "P1" and not rows:
            continue
        for spec in SUITE_GATES:
            results.append(_judge(spec, rows, cfg, scope=scope))
        results.append(_valid_rate(rows, cfg, scope=scope))
    thr = cfg.kpi_regression_ms
    if kpi_delta_ms is None:
        results.append(
            GateResult(
                "primary_kpi_regression",
                None,
                thr,
                "SKIP",
                None,
                "vs baseline",
                "SKIP: no baseline",
            )
        )
    else:
        passed = kpi_delta_ms <= thr
        results.append(
            GateResult(
                "primary_kpi_regression",
                round(kpi_delta_ms, 3),
                thr,
                "PASS" if passed else "FAIL",
                None if passed else FIXES["primary_kpi_regression"],
                "vs baseline",
                f"delta {kpi_delta_ms:+.1f} ms vs allowed +{thr:.0f} ms",
            )
        )
    results.extend(_fingerprints(measured, cfg))
    return results


def overall_verdict(gate_results: Sequence[GateResult]) -> tuple[str, int]:
    """FAIL (1) if any gate failed, else INFRA (2) if any infra, else PASS (0)."""
    verdicts = {g.verdict for g in gate_results}
    if "FAIL" in verdicts:
        return "FAIL", EXIT_FAIL
    if "INFRA" in verdicts:
        return "INFRA", EXIT_INFRA
    return "PASS", EXIT_PASS
