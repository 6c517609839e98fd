"""`--repeat N`: each case's pass rate, verdict flips and figures across its repeats. Pure.

A repeat's verdict is the suite's gates applied to that repeat's final attempt alone
(`evaluate_gates([row])`, with no baseline): PASS (WARN included), FAIL or INFRA. A
case's pass rate is its PASS repeats over all; `flips` counts the changes between
consecutive repeats (PASS FAIL PASS: 2). Figures are pooled over the case's measured
(non-INFRA) final attempts at each metric's own level, and summarised as P50 / P95.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from autortc.gates import GatesConfig, Verdict, evaluate_gates, overall_verdict
from autortc.metrics import registry as M
from autortc.metrics import stats
from autortc.metrics.rows import AttemptRow, final_attempts


@dataclass(frozen=True)
class FigureSpread:
    p50: float | None
    p95: float | None
    n: int


@dataclass(frozen=True)
class CaseRepeats:
    case_id: str
    verdicts: tuple[str, ...]  # one per repeat, in repeat order
    figures: dict[str, FigureSpread] = field(default_factory=dict)  # metric name ->

    @property
    def pass_rate(self) -> float:
        return sum(v == Verdict.PASS for v in self.verdicts) / len(self.verdicts)

    @property
    def flips(self) -> int:
        return sum(a != b for a, b in zip(self.verdicts, self.verdicts[1:], strict=False))


def repeat_verdict(row: AttemptRow, config: GatesConfig) -> str:
    return str(overall_verdict(evaluate_gates([row], config=config))[0])


def repeat_stats(rows: Sequence[AttemptRow], config: GatesConfig) -> list[CaseRepeats]:
    """Per case (first-seen order), over its repeats; [] when the run was not repeated."""
    finals = [r for r in final_attempts(rows) if r.repeat is not None]
    by_case: dict[str, list[AttemptRow]] = {}
    for r in finals:
        by_case.setdefault(r.case_id, []).append(r)
    out = []
    for case_id, case_rows in by_case.items():
        case_rows.sort(key=lambda r: r.repeat or 0)
        measured = [r for r in case_rows if not r.is_infra]
        figures = {}
        for metric in M.REGISTRY:
            values = [v for r in measured for v in r.values(metric)]
            if values:
                figures[metric.name] = FigureSpread(
                    stats.median(values), stats.p95(values), len(values)
                )
        verdicts = tuple(repeat_verdict(r, config) for r in case_rows)
        out.append(CaseRepeats(case_id, verdicts, figures))
    return out


SHOWN = (M.EOT_TO_FIRST_AUDIO, M.MAX_GAP, M.MEL_DISTANCE)


def repeats_lines(cases: Sequence[CaseRepeats]) -> list[str]:
    """report.md's "Repeats" table (pass rate, flips, a few figures' P50 / P95)."""
    if not cases:
        return []
    head = "| case | repeats | pass rate | flips | verdicts | " + " | ".join(
        f"{m.header} P50 / P95" for m in SHOWN
    )
    out = [head + " |", "|" + "---|" * (5 + len(SHOWN))]
    for c in cases:
        cells = []
        for m in SHOWN:
            f = c.figures.get(m.name)
            cells.append("–" if f is None else f"{_num(f.p50)} / {_num(f.p95)}")  # noqa: RUF001
        out.append(
            f"| {c.case_id} | {len(c.verdicts)} | {c.pass_rate:.0%} | {c.flips} | "
            f"{' '.join(c.verdicts)} | " + " | ".join(cells) + " |"
        )
    out.append("")
    out.append("Every figure's P50 / P95 per case is in `repeats.csv`.")
    return out


def repeats_csv_rows(cases: Sequence[CaseRepeats]) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for c in cases:
        for name, f in c.figures.items():
            rows.append(
                {
                    "case_id": c.case_id,
                    "repeats": len(c.verdicts),
                    "pass_rate": round(c.pass_rate, 4),
                    "flips": c.flips,
                    "metric": name,
                    "p50": f.p50,
                    "p95": f.p95,
                    "n": f.n,
                }
            )
    return rows


def _num(v: float | None) -> str:
    return "–" if v is None else f"{v:.1f}"  # noqa: RUF001
