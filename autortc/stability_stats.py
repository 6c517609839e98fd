"""Pure statistics for baseline_stability (shared/spec/measurement.md, Stability).

Input: N runs of the same suite, each a `RunSample(run_id, verdict, rows)` where rows
are `AttemptMetrics.to_dict()` dicts. For every metric, over all P0 samples of all runs
(final attempt per case and run; first-reply figures, per-turn and per-reply figures
pooled), report n, median, P95 (numpy linear) and sigma (sample standard deviation,
ddof=1; 0.0 for a single sample).

Threshold proposals, each with its method string:
- latency P95-type gates (eot_to_first_audio, tts_first_to_publish, inter_arrival,
  max_gap): P95 x 1.2 + margin (default 10 ms);
- TTFT-type (fast_lane_ttft): median + 2 sigma;
- hard rules stay hard: audible_dropout == 0, audio_valid rate 100 %, clipping < 0.1 %.
Also the retry rate (cases whose final attempt > 1, over all cases of all runs) and the
number of verdict flips between consecutive runs.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

MARGIN_MS = 10.0

# gate attribute -> (metric key, level, method)
PROPOSALS: dict[str, tuple[str, str, str]] = {
    "eot_to_first_audio_p95_ms": ("eot_to_first_audio_ms", "row", "p95x1.2"),
    "tts_first_to_publish_p95_ms": ("tts_first_to_publish_ms", "turns", "p95x1.2"),
    "inter_arrival_p95_ms": ("inter_arrival_p95_ms", "replies", "p95x1.2"),
    "max_gap_ms": ("max_gap_ms", "replies", "p95x1.2"),
    "fast_lane_ttft_p95_ms": ("fast_lane_ttft_ms", "turns", "median+2sigma"),
}
HARD_RULES: dict[str, tuple[float, str]] = {
    "audible_dropout_max": (0, "hard rule: audible_dropout == 0"),
    "audio_valid_rate_min": (1.0, "hard rule: audio_valid rate 100 %"),
    "clipping_ratio_max": (0.001, "hard rule: clipping < 0.1 %"),
}
ROW_METRICS = (
    "eot_to_first_audio_ms",
    "agent_eot_to_first_audio_ms",
    "post_rms",
    "max_gap_ms",
    "added_gap_ms",
    "audible_dropout",
    "clipping_ratio",
    "inter_arrival_p95_ms",
    "mel_distance",
    "hf_ratio_drop",
    "drift_ratio",
)
TURN_METRICS = ("tts_first_to_publish_ms", "fast_lane_ttft_ms", "barge_in_stop_ms")


@dataclass(frozen=True)
class RunSample:
    run_id: str
    verdict: str
    rows: Sequence[Mapping[str, Any]] = field(default_factory=list)


def metric_stats(samples: Sequence[float | None]) -> dict[str, float | int | None]:
    v = np.asarray([float(x) for x in samples if x is not None], dtype=np.float64)
    if v.size == 0:
        return {"n": 0, "median": None, "p95": None, "sigma": None}
    return {
        "n": int(v.size),
        "median": float(np.median(v)),
        "p95": float(np.percentile(v, 95, method="linear")),
        "sigma": float(np.std(v, ddof=1)) if v.size > 1 else 0.0,
    }


def _final_rows(rows: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    last: dict[str, Mapping[str, Any]] = {}
    for r in rows:
        cid = str(r.get("case_id"))
        if cid not in last or int(r.get("attempt", 1)) >= int(last[cid].get("attempt", 1)):
            last[cid] = r
    return list(last.values())


def collect_samples(runs: Sequence[RunSample], *, priority: str = "P0") -> dict[str, list[float]]:
    """metric -> pooled samples over all runs' final attempts of the given priority."""
    out: dict[str, list[float]] = {}
    for run in runs:
        for r in _final_rows(run.rows):
            if r.get("priority", "P0") != priority:
                continue
            for k in ROW_METRICS:
                if r.get(k) is not None:
                    out.setdefault(k, []).append(float(r[k]))
            for t in r.get("turns") or []:
                for k in TURN_METRICS:
                    if t.get(k) is not None:
                        out.setdefault(k, []).append(float(t[k]))
            for rep in r.get("replies") or []:
                for k in ("max_gap_ms", "inter_arrival_p95_ms"):
                    if rep.get(k) is not None:
                        out.setdefault(f"replies.{k}", []).append(float(rep[k]))
    return out


def propose_thresholds(
    samples: Mapping[str, Sequence[float]], *, margin_ms: float = MARGIN_MS
) -> dict[str, dict[str, Any]]:
    """gate attribute -> {"value", "method"}; value None when the metric has no sample."""
    out: dict[str, dict[str, Any]] = {}
    for attr, (key, level, method) in PROPOSALS.items():
        src = samples.get(f"replies.{key}") if level == "replies" else None
        st = metric_stats(list(src if src is not None else samples.get(key, [])))
        if st["n"] == 0:
            out[attr] = {"value": None, "method": f"{method}: no samples", "basis": st}
            continue
        if method == "p95x1.2":
            value = float(st["p95"]) * 1.2 + margin_ms  # type: ignore[arg-type]
            text = f"P95 x 1.2 + {margin_ms:g} ms margin (P95 {st['p95']:.1f} ms over {st['n']} samples)"
        else:
            value = float(st["median"]) + 2.0 * float(st["sigma"])  # type: ignore[arg-type]
            text = f"median + 2 sigma ({st['median']:.1f} + 2 x {st['sigma']:.1f} ms over {st['n']} samples)"
        out[attr] = {"value": round(value, 1), "method": text, "basis": st}
    for attr, (hard, text) in HARD_RULES.items():
        out[attr] = {"value": hard, "method": text, "basis": None}
    return out


def verdict_flips(verdicts: Sequence[str]) -> int:
    """How many times the verdict changed between consecutive runs."""
    return sum(1 for a, b in itertools.pairwise(verdicts) if a != b)


def retry_rate(runs: Sequence[RunSample]) -> float | None:
    """Retried cases / all cases, over all runs (a case is retried if it has attempt > 1)."""
    total = retried = 0
    for run in runs:
        for r in _final_rows(run.rows):
            total += 1
            retried += int(int(r.get("attempt", 1)) > 1)
    return retried / total if total else None


def stability_summary(runs: Sequence[RunSample], *, margin_ms: float = MARGIN_MS) -> dict[str, Any]:
    """Everything baseline_stability.json holds (the I/O side renders the .md)."""
    samples = collect_samples(runs)
    return {
        "n_runs": len(runs),
        "run_ids": [r.run_id for r in runs],
        "verdicts": [r.verdict for r in runs],
        "verdict_flips": verdict_flips([r.verdict for r in runs]),
        "retry_rate": retry_rate(runs),
        "metrics": {k: metric_stats(v) for k, v in sorted(samples.items())},
        "proposed_thresholds": propose_thresholds(samples, margin_ms=margin_ms),
    }
