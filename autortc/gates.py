"""Gates: the suite's verdict, judged on typed attempt rows (pure).

A gate failure is data (`GateResult`), never an exception.

Per case only the final attempt counts (`rows.final_attempts`). A case whose
final attempt is still infrastructure-failed (BARRIER_TIMEOUT, AGENT_NOT_JOINED,
BOT_CRASHED, TIMEOUT) yields the `infrastructure` gate's INFRA and is left out of
every other gate. POST_SILENT after its retry is not infra: it fails
`audio_valid_rate`.

The gates are declared once, in `SUITE_GATES` and `FINGERPRINTS` (`gate_list.py`): each names its
metric (from the registry), whether it judges the attempt's own value ("first")
or every value at the metric's level ("each"), its aggregation, its threshold in
`GatesConfig`, and a suggested fix. Stability's threshold proposals read the same
declarations.

Scoping: each suite gate is judged on the P0 rows (PASS / FAIL / SKIP) and again
on the P1 rows, where a violation is only WARN (scope "P1"). The PRIMARY_KPI
regression gate is P0 only. Fingerprints (boom, speed drift, distortion) are
WARN only. SKIP: no value to judge.

Verdict precedence (`overall_verdict`): any FAIL -> FAIL, exit 1; else any INFRA
-> INFRA, exit 2; else PASS, exit 0. WARN and SKIP never change the exit code. A
FAIL wins over INFRA because it is a finding about the agent that a rerun would
not fix.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from enum import StrEnum

from autortc.errors import EXIT_FAIL, EXIT_INFRA, EXIT_PASS
from autortc.gate_list import (
    AUDIO_VALID_FIX,
    AUDIO_VALID_RATE,
    FINGERPRINTS,
    INFRASTRUCTURE,
    INFRASTRUCTURE_FIX,
    KPI_REGRESSION,
    KPI_REGRESSION_FIX,
    REPLY_INCOMPLETE_FIX,
    REPLY_INCOMPLETE_GATE,
    SUITE_GATES,
    Fingerprint,
    SuiteGate,
    Tune,
)
from autortc.gates_config import DEFAULT_GATES_PATH, GatesConfig, load_gates
from autortc.metrics import stats
from autortc.metrics.registry import Agg
from autortc.metrics.rows import AttemptRow, final_attempts
from autortc.metrics.status import REPLY_INCOMPLETE

__all__ = [
    "AUDIO_VALID_RATE",
    "DEFAULT_GATES_PATH",
    "FINGERPRINTS",
    "SUITE_GATES",
    "GateResult",
    "GatesConfig",
    "SuiteGate",
    "Tune",
    "evaluate_gates",
    "load_gates",
    "overall_verdict",
]


class Verdict(StrEnum):
    PASS = "PASS"
    FAIL = "FAIL"
    WARN = "WARN"
    SKIP = "SKIP"
    INFRA = "INFRA"


@dataclass(frozen=True)
class GateResult:
    name: str
    observed: float | None
    threshold: float | None
    verdict: str  # a Verdict
    fix: str | None
    scope: str  # "P0" | "P1" | "all" | "vs baseline"
    detail: str = ""

    def to_dict(self) -> dict[str, str | float | None]:
        return asdict(self)


def _judge(
    gate: SuiteGate, rows: Sequence[AttemptRow], config: GatesConfig, *, scope: str
) -> GateResult:
    thr = gate.threshold(config)
    pairs = [(r, v) for r in rows for v in gate.values(r)]
    if not pairs:
        return GateResult(
            gate.name,
            None,
            thr,
            Verdict.SKIP,
            None,
            scope,
            f"SKIP: {gate.skip_reason} ({len(rows)} cases)",
        )
    values = [v for _, v in pairs]
    observed = stats.p95(values) if gate.agg is Agg.P95 else max(values)
    assert observed is not None
    passed = gate.passes(observed, thr)
    offenders = sorted({gate.offender_note(r) for r, v in pairs if not gate.passes(v, thr)})
    detail = f"{gate.agg} over {len(values)} values from {len(rows)} cases"
    if offenders:
        detail += "; over threshold: " + ", ".join(offenders)
    bad = Verdict.FAIL if scope == "P0" else Verdict.WARN
    return GateResult(
        gate.name,
        round(observed, 6),
        thr,
        Verdict.PASS if passed else bad,
        None if passed else gate.fix,
        scope,
        detail,
    )


def _reply_incomplete(rows: Sequence[AttemptRow], config: GatesConfig, *, scope: str) -> GateResult:
    thr = float(config.reply_incomplete_max)
    bad = [r for r in rows if r.capture_status == REPLY_INCOMPLETE]
    if not rows:
        return GateResult(
            REPLY_INCOMPLETE_GATE, None, thr, Verdict.SKIP, None, scope, "SKIP: no measured cases"
        )
    passed = len(bad) <= thr
    verdict = Verdict.PASS if passed else (Verdict.FAIL if scope == "P0" else Verdict.WARN)
    detail = f"{len(bad)}/{len(rows)} cases" + (
        ": " + "; ".join(f"{r.case_id} ({r.status_reason})" for r in bad) if bad else ""
    )
    return GateResult(
        REPLY_INCOMPLETE_GATE,
        float(len(bad)),
        thr,
        verdict,
        None if passed else REPLY_INCOMPLETE_FIX,
        scope,
        detail,
    )


def _valid_rate(rows: Sequence[AttemptRow], config: GatesConfig, *, scope: str) -> GateResult:
    thr = config.audio_valid_rate_min
    if not rows:
        return GateResult(
            AUDIO_VALID_RATE, None, thr, Verdict.SKIP, None, scope, "SKIP: no measured cases"
        )
    n_valid = sum(r.audio_valid for r in rows)
    rate = n_valid / len(rows)
    bad = sorted(r.case_id for r in rows if not r.audio_valid)
    passed = rate >= thr
    verdict = Verdict.PASS if passed else (Verdict.FAIL if scope == "P0" else Verdict.WARN)
    detail = f"{n_valid}/{len(rows)} cases valid" + (f"; invalid: {', '.join(bad)}" if bad else "")
    return GateResult(
        AUDIO_VALID_RATE,
        round(rate, 6),
        thr,
        verdict,
        None if passed else AUDIO_VALID_FIX,
        scope,
        detail,
    )


def _fingerprint(fp: Fingerprint, rows: Sequence[AttemptRow], config: GatesConfig) -> GateResult:
    thr = fp.threshold(config)
    measured = [(r.case_id, v) for r in rows for v in r.values(fp.metric)]
    if not measured:
        return GateResult(fp.name, None, thr, Verdict.SKIP, None, "all", "SKIP: not measured")
    flagged = sorted({c for c, v in measured if fp.flags(v, thr)})
    observed = (min if fp.floor else max)(fp.observe(v) for _, v in measured)
    detail = f"{len(flagged)}/{len(rows)} cases flagged"
    if flagged:
        detail += ": " + ", ".join(flagged)
    return GateResult(
        fp.name,
        round(observed, 6),
        thr,
        Verdict.WARN if flagged else Verdict.PASS,
        fp.fix if flagged else None,
        "all",
        detail,
    )


def _infrastructure(finals: Sequence[AttemptRow]) -> GateResult:
    infra = [r for r in finals if r.is_infra]
    if not infra:
        return GateResult(
            INFRASTRUCTURE, 0.0, 0.0, Verdict.PASS, None, "all", f"{len(finals)} cases measured"
        )

    def why(r: AttemptRow) -> str:
        retried = "after its retry" if r.attempt > 1 else "not retried"
        reason = f": {r.status_reason}" if r.status_reason else ""
        return f"{r.case_id}={r.capture_status} ({retried}{reason})"

    return GateResult(
        INFRASTRUCTURE,
        float(len(infra)),
        0.0,
        Verdict.INFRA,
        INFRASTRUCTURE_FIX,
        "all",
        "infrastructure-failed: " + "; ".join(why(r) for r in infra),
    )


def _kpi_regression(kpi_delta_ms: float | None, config: GatesConfig) -> GateResult:
    thr = config.kpi_regression_ms
    if kpi_delta_ms is None:
        return GateResult(
            KPI_REGRESSION, None, thr, Verdict.SKIP, None, "vs baseline", "SKIP: no baseline"
        )
    passed = kpi_delta_ms <= thr
    return GateResult(
        KPI_REGRESSION,
        round(kpi_delta_ms, 3),
        thr,
        Verdict.PASS if passed else Verdict.FAIL,
        None if passed else KPI_REGRESSION_FIX,
        "vs baseline",
        f"delta {kpi_delta_ms:+.1f} ms vs allowed +{thr:.0f} ms",
    )


def evaluate_gates(
    rows: Sequence[AttemptRow],
    *,
    config: GatesConfig | None = None,
    kpi_delta_ms: float | None = None,
) -> list[GateResult]:
    """Judge a suite. `kpi_delta_ms` is PRIMARY_KPI - baseline (None: no baseline -> SKIP)."""
    cfg = config or GatesConfig()
    finals = final_attempts(rows)
    measured = [r for r in finals if not r.is_infra]
    results = [_infrastructure(finals)]
    for scope, scoped in (
        ("P0", [r for r in measured if r.is_p0]),
        ("P1", [r for r in measured if not r.is_p0]),
    ):
        if scope == "P1" and not scoped:
            continue
        results.extend(_judge(g, scoped, cfg, scope=scope) for g in SUITE_GATES)
        results.append(_valid_rate(scoped, cfg, scope=scope))
        results.append(_reply_incomplete(scoped, cfg, scope=scope))
    results.append(_kpi_regression(kpi_delta_ms, cfg))
    results.extend(_fingerprint(fp, measured, cfg) for fp in FINGERPRINTS)
    return results


def overall_verdict(gate_results: Sequence[GateResult]) -> tuple[str, int]:
    """FAIL (1) if any gate failed, else INFRA (2) if any infra, else PASS (0)."""
    verdicts = {g.verdict for g in gate_results}
    if Verdict.FAIL in verdicts:
        return Verdict.FAIL, EXIT_FAIL
    if Verdict.INFRA in verdicts:
        return Verdict.INFRA, EXIT_INFRA
    return Verdict.PASS, EXIT_PASS
