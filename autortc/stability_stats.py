"""Pure statistics for baseline_stability (docs/spec/measurement.md, Stability).

Input: N runs of the same suite, each a `RunSample(run_id, verdict, rows)`. For
every registered metric, over all P0 samples of all runs (the final attempt per
case and run; every value at the metric's own level: per reply, per turn or per
attempt), report n, median, P95 and sigma (`metrics.stats.describe`).

Threshold proposals, one per gate of `autortc.gates`, from exactly the values that
gate judges, each with its method string:
- latency P95-type gates (`Tune.P95_X12`): P95 x 1.2 + margin (default 10 ms);
- TTFT-type (`Tune.MEDIAN_2SIGMA`): median + 2 sigma;
- hard rules (`Tune.HARD`) stay at their defaults, and so does audio_valid_rate.
Also the retry rate (cases whose final attempt > 1, over all cases of all runs) and
the number of verdict flips between consecutive runs.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

from pydantic import BaseModel

from autortc.gates import AUDIO_VALID_RATE, SUITE_GATES, SuiteGate, Tune
from autortc.gates_config import GatesConfig
from autortc.metrics import registry as M
from autortc.metrics import stats
from autortc.metrics.rows import AttemptRow, final_attempts

MARGIN_MS = 10.0


@dataclass(frozen=True)
class RunSample:
    run_id: str
    verdict: str
    rows: Sequence[AttemptRow] = field(default_factory=list)


class MetricStats(BaseModel):
    n: int
    median: float | None
    p95: float | None
    sigma: float | None


class Proposal(BaseModel):
    gate: str
    value: float | None
    method: str
    basis: MetricStats | None


class StabilitySummary(BaseModel):
    n_runs: int
    run_ids: list[str]
    run_dirs: list[str] = []
    verdicts: list[str]
    verdict_flips: int
    retry_rate: float | None
    metrics: dict[str, MetricStats]
    proposed_thresholds: dict[str, Proposal]  # by GatesConfig field


def metric_stats(samples: Sequence[float | None]) -> MetricStats:
    n, med, p95, sigma = stats.describe(samples)
    return MetricStats(n=n, median=med, p95=p95, sigma=sigma)


def _p0_finals(runs: Sequence[RunSample]) -> list[AttemptRow]:
    return [r for run in runs for r in final_attempts(run.rows) if r.is_p0]


def collect_samples(runs: Sequence[RunSample]) -> dict[str, list[float]]:
    """metric name -> pooled values over all runs' P0 final attempts (metrics with values)."""
    rows = _p0_finals(runs)
    out: dict[str, list[float]] = {}
    for m in M.REGISTRY:
        values = [v for r in rows for v in r.values(m)]
        if values:
            out[m.name] = values
    return out


def _propose(
    gate: SuiteGate, values: Sequence[float], default: float, margin_ms: float
) -> Proposal:
    basis = metric_stats(values)
    if gate.tune is Tune.HARD:
        return Proposal(
            gate=gate.name,
            value=default,
            method=f"hard rule: {gate.name} stays at {default:g}",
            basis=None,
        )
    if basis.n == 0:
        return Proposal(gate=gate.name, value=None, method=f"{gate.tune}: no samples", basis=basis)
    if gate.tune is Tune.P95_X12:
        assert basis.p95 is not None
        value = basis.p95 * 1.2 + margin_ms
        text = (
            f"P95 x 1.2 + {margin_ms:g} ms margin (P95 {basis.p95:.1f} ms over {basis.n} samples)"
        )
    else:
        assert basis.median is not None
        assert basis.sigma is not None
        value = basis.median + 2.0 * basis.sigma
        text = f"median + 2 sigma ({basis.median:.1f} + 2 x {basis.sigma:.1f} ms over {basis.n} samples)"
    return Proposal(gate=gate.name, value=round(value, 1), method=text, basis=basis)


def propose_thresholds(
    runs: Sequence[RunSample], *, margin_ms: float = MARGIN_MS
) -> dict[str, Proposal]:
    """GatesConfig field -> its proposal, from the values each gate judges."""
    rows = _p0_finals(runs)
    defaults = GatesConfig()
    out: dict[str, Proposal] = {}
    for gate in SUITE_GATES:
        values = [v for r in rows for v in gate.values(r)]
        out[gate.config_key] = _propose(gate, values, gate.threshold(defaults), margin_ms)
    out["audio_valid_rate_min"] = Proposal(
        gate=AUDIO_VALID_RATE,
        value=defaults.audio_valid_rate_min,
        method=f"hard rule: {AUDIO_VALID_RATE} stays at 100 %",
        basis=None,
    )
    return out


def verdict_flips(verdicts: Sequence[str]) -> int:
    """How many times the verdict changed between consecutive runs."""
    return sum(1 for a, b in itertools.pairwise(verdicts) if a != b)


def retry_rate(runs: Sequence[RunSample]) -> float | None:
    """Retried cases / all cases, over all runs (a case is retried if it has attempt > 1)."""
    finals = [r for run in runs for r in final_attempts(run.rows)]
    return sum(r.attempt > 1 for r in finals) / len(finals) if finals else None


def stability_summary(
    runs: Sequence[RunSample], *, margin_ms: float = MARGIN_MS
) -> StabilitySummary:
    """Everything baseline_stability.json holds (the I/O side renders the .md)."""
    samples = collect_samples(runs)
    return StabilitySummary(
        n_runs=len(runs),
        run_ids=[r.run_id for r in runs],
        verdicts=[r.verdict for r in runs],
        verdict_flips=verdict_flips([r.verdict for r in runs]),
        retry_rate=retry_rate(runs),
        metrics={k: metric_stats(v) for k, v in sorted(samples.items())},
        proposed_thresholds=propose_thresholds(runs, margin_ms=margin_ms),
    )
