"""The suite outcome: everything the reports render, built purely from attempt rows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from autortc.gates import GateResult, GatesConfig, evaluate_gates, overall_verdict
from autortc.kpi import build_kpi_summary, primary_kpi_samples

# keys that are lists/dicts in an attempt's metrics; metrics.csv gets them as JSON
NESTED_KEYS = ("replies", "turns", "null_reasons")


@dataclass
class SuiteOutcome:
    summary: dict[str, Any]
    rows: list[dict[str, Any]]  # one per attempt
    gates: list[GateResult] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        return str(self.summary["verdict"])

    @property
    def exit_code(self) -> int:
        return int(self.summary["exit_code"])


def final_rows(rows: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    last: dict[str, Mapping[str, Any]] = {}
    for r in rows:
        cid = str(r["case_id"])
        if cid not in last or int(r["attempt"]) >= int(last[cid]["attempt"]):
            last[cid] = r
    return list(last.values())


def summarize(
    rows: list[dict[str, Any]],
    *,
    config: GatesConfig,
    baseline: Mapping[str, Any] | None,
    baseline_version: str | None,
    run_info: Mapping[str, Any],
) -> SuiteOutcome:
    """Gates, KPI and verdict for one run. Pure: `run_info` carries ids and timings."""
    kpi = build_kpi_summary(
        primary_kpi_samples(rows),
        baseline,
        baseline_version=baseline_version,
        regression_ms=config.kpi_regression_ms,
    )
    gates = evaluate_gates(rows, config=config, kpi_delta_ms=kpi["PRIMARY_KPI_DELTA_MS"])
    verdict, exit_code = overall_verdict(gates)
    finals = final_rows(rows)
    n_cases = len(finals)
    retried = sum(1 for r in finals if int(r["attempt"]) > 1)
    summary: dict[str, Any] = {
        **kpi,
        **run_info,
        "verdict": verdict,
        "exit_code": exit_code,
        "n_cases": n_cases,
        "n_attempts": len(rows),
        "retry_rate": (retried / n_cases) if n_cases else None,
        "capture_status_counts": _count(r.get("capture_status") for r in finals),
        "gates": [g.to_dict() for g in gates],
        "gates_config": config.model_dump(),
        "cases": [_case_brief(r) for r in finals],
    }
    return SuiteOutcome(summary=summary, rows=rows, gates=gates)


def _count(values: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in values:
        out[str(v)] = out.get(str(v), 0) + 1
    return out


CASE_BRIEF_KEYS = (
    "case_id",
    "priority",
    "attempt",
    "capture_status",
    "slice_source",
    "audio_valid",
    "eot_to_first_audio_ms",
    "agent_eot_to_first_audio_ms",
    "tts_first_to_publish_ms",
    "fast_lane_ttft_ms",
    "max_gap_ms",
    "added_gap_ms",
    "audible_dropout",
    "clipping_ratio",
    "inter_arrival_p95_ms",
    "mel_distance",
    "hf_ratio_drop",
    "barge_in_stop_ms",
    "post_rms",
)


def _case_brief(row: Mapping[str, Any]) -> dict[str, Any]:
    brief = {k: row.get(k) for k in CASE_BRIEF_KEYS}
    replies = row.get("replies") or []
    brief["replies_interrupted"] = [r.get("interrupted") for r in replies]
    return brief


def brief_summary(summary: Mapping[str, Any]) -> dict[str, Any]:
    """summary_brief.json: the few figures a dashboard or a CI job needs."""
    keys = (
        "run_id",
        "suite",
        "transport",
        "verdict",
        "exit_code",
        "PRIMARY_KPI_NAME",
        "PRIMARY_KPI_VALUE",
        "BASELINE_VERSION",
        "BASELINE_PRIMARY_KPI",
        "PRIMARY_KPI_DELTA_MS",
        "PRIMARY_KPI_DELTA_CI95",
        "n_cases",
        "retry_rate",
        "wall_s",
    )
    out = {k: summary.get(k) for k in keys}
    out["failed_gates"] = [
        g["name"] + "/" + g["scope"]
        for g in summary.get("gates", [])
        if g["verdict"] in ("FAIL", "INFRA")
    ]
    out["warned_gates"] = [
        g["name"] + "/" + g["scope"] for g in summary.get("gates", []) if g["verdict"] == "WARN"
    ]
    return out
