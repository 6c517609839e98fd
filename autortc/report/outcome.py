"""The suite outcome: everything the reports render, built purely from attempt rows.

`SuiteSummary` is summary.json: the KPI block first (`KpiSummary`), then the run's
identity and timings (`RunInfo`), the verdict, the gates, the gate thresholds and
one brief per case (its final attempt). Renderers read this typed object, never
a dict.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from pydantic import BaseModel, JsonValue

from autortc.errors import EXIT_INFRA
from autortc.gates import GateResult, GatesConfig, Verdict, evaluate_gates, overall_verdict
from autortc.kpi import Baseline, KpiSummary, build_kpi_summary, primary_kpi_samples
from autortc.metrics import registry as M
from autortc.metrics.rows import AttemptRow, final_attempts
from autortc.repeats import repeat_stats

INCOMPLETE = "INCOMPLETE"  # the verdict of a run that stopped before its last case


class RunInfo(BaseModel):
    """Who ran what, where and how long (the I/O side fills it in)."""

    run_id: str
    suite: str
    transport: str
    agent_name: str | None = None
    blackbox: bool = False
    started_unix_s: float | None = None
    wall_s: float | None = None
    # why the run stopped before its last case (a signal, an infrastructure error);
    # the report then covers the attempts that finished, and the verdict is INCOMPLETE
    incomplete: str | None = None
    shard: str | None = None  # "K/N" when the run was one shard of its suite
    jobs: int = 1  # attempts at once
    startup_s: float | None = None  # of wall_s, until the stack was ready
    # the harness's measured error on eot_to_first_audio_ms (golden/calibration.json)
    kpi_error: str | None = None
    network: str | None = None  # embedded transport: the rooms' network and codec
    model_figures: str | None = None  # which model figures ran (--listening, --heard-wer)


class SuiteSummary(RunInfo, KpiSummary):
    """summary.json."""

    verdict: str
    exit_code: int
    n_cases: int
    n_attempts: int
    retry_rate: float | None
    capture_status_counts: dict[str, int]
    gates: list[GateResult]
    gates_config: GatesConfig
    cases: list[dict[str, JsonValue]]
    repeats: list[dict[str, JsonValue]] | None = None  # --repeat N: per case (repeats.py)
    # the run's real-time floor: the larger of its longest recording and all its
    # recordings' time over the jobs (an attempt's recording is its real-time cost)
    realtime_floor_s: float | None = None

    def failed_gates(self) -> list[GateResult]:
        return [g for g in self.gates if g.verdict in (Verdict.FAIL, Verdict.INFRA)]

    def gates_with_fixes(self) -> list[GateResult]:
        bad = (Verdict.FAIL, Verdict.WARN, Verdict.INFRA)
        return [g for g in self.gates if g.verdict in bad and g.fix]


@dataclass
class SuiteOutcome:
    summary: SuiteSummary
    rows: list[AttemptRow]  # one per attempt
    gates: list[GateResult] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        return self.summary.verdict

    @property
    def exit_code(self) -> int:
        return self.summary.exit_code


def case_brief(row: AttemptRow) -> dict[str, JsonValue]:
    """A case's final attempt in summary.json: identity, status and the brief figures."""
    brief: dict[str, JsonValue] = {
        "case_id": row.case_id,
        "priority": row.priority,
        "attempt": row.attempt,
        "capture_status": row.capture_status,
        "slice_source": row.slice_source,
        "audio_valid": row.audio_valid,
    }
    brief.update({m.name: row.get(m) for m in M.CASE_BRIEF})
    brief["replies_interrupted"] = [r.interrupted for r in row.replies]
    return brief


def summarize(
    rows: Sequence[AttemptRow],
    *,
    config: GatesConfig,
    baseline: Baseline | None,
    baseline_version: str | None,
    run_info: RunInfo,
) -> SuiteOutcome:
    """Gates, KPI and verdict for one run. Pure: `run_info` carries ids and timings."""
    kpi = build_kpi_summary(
        primary_kpi_samples(rows),
        baseline,
        baseline_version=baseline_version,
        regression_ms=config.kpi_regression_ms,
    )
    gates = evaluate_gates(rows, config=config, kpi_delta_ms=kpi.PRIMARY_KPI_DELTA_MS)
    verdict, exit_code = overall_verdict(gates)
    if run_info.incomplete:
        verdict, exit_code = INCOMPLETE, EXIT_INFRA
    finals = final_attempts(rows)
    retried = sum(1 for r in finals if r.attempt > 1)
    repeated = repeat_stats(rows, config)
    rec_s = [(r.phases_ms.get("conversation") or 0.0) / 1000 for r in rows]
    summary = SuiteSummary(
        **kpi.model_dump(),
        **run_info.model_dump(),
        verdict=verdict,
        exit_code=exit_code,
        n_cases=len(finals),
        n_attempts=len(rows),
        retry_rate=(retried / len(finals)) if finals else None,
        capture_status_counts=dict(Counter(r.capture_status for r in finals)),
        gates=gates,
        gates_config=config,
        cases=[case_brief(r) for r in finals],
        repeats=[
            {
                "case_id": c.case_id,
                "repeats": len(c.verdicts),
                "pass_rate": round(c.pass_rate, 4),
                "flips": c.flips,
                "verdicts": list(c.verdicts),
            }
            for c in repeated
        ]
        or None,
        realtime_floor_s=round(realtime_floor_s(rec_s, run_info.jobs), 2) if rec_s else None,
    )
    return SuiteOutcome(summary=summary, rows=list(rows), gates=gates)


def realtime_floor_s(recordings_s: Sequence[float], jobs: int) -> float:
    """max(longest recording, sum of recordings / jobs): no schedule beats it."""
    return max(max(recordings_s, default=0.0), sum(recordings_s) / max(1, jobs))


class BriefSummary(BaseModel):
    """summary_brief.json: the few figures a dashboard or a CI job needs."""

    run_id: str
    suite: str
    transport: str
    verdict: str
    exit_code: int
    PRIMARY_KPI_NAME: str
    PRIMARY_KPI_VALUE: float | None
    BASELINE_VERSION: str | None
    BASELINE_PRIMARY_KPI: float | None
    PRIMARY_KPI_DELTA_MS: float | None
    PRIMARY_KPI_DELTA_CI95: list[float] | None
    n_cases: int
    retry_rate: float | None
    wall_s: float | None
    realtime_floor_s: float | None
    jobs: int
    failed_gates: list[str]
    warned_gates: list[str]


def brief_summary(s: SuiteSummary) -> BriefSummary:
    derived = ("failed_gates", "warned_gates")
    fields = {k: getattr(s, k) for k in BriefSummary.model_fields if k not in derived}
    return BriefSummary(
        **fields,
        failed_gates=[f"{g.name}/{g.scope}" for g in s.failed_gates()],
        warned_gates=[f"{g.name}/{g.scope}" for g in s.gates if g.verdict == Verdict.WARN],
    )
