"""`autortc selftest`: inject each defect into the reference agent and check that exactly
the expected gate or status fires, and that the clean agent passes (the I/O side; the
matrix and the judging are pure, in `autortc.selftest_matrix`).

All rows run as one suite on one stack (one room server, one agent worker): each row
is a copy of its named case whose room metadata carries the defect. Each row is then
judged on its own: its gates, its exit code, and, for the rows that need it, against
the clean row (the delay row's KPI regression uses the clean row as its baseline).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path

from autortc.case_schema import AgentSpec, Case, load_case_file, load_suite
from autortc.gates import load_gates
from autortc.kpi import PRIMARY_KPI_METRIC, Baseline
from autortc.metrics.rows import AttemptRow
from autortc.orchestrator import RunOptions, new_run_id, run_cases
from autortc.report.outcome import RunInfo, summarize
from autortc.selftest_matrix import (
    SELFTEST_ONLY_CASES,
    Judgement,
    Row,
    RowOutcome,
    judge_row,
    table,
)

SELFTEST_BARRIER_TIMEOUT_S = 6.0


def selftest_case(row: Row, index: int, sources: dict[str, Case]) -> Case:
    src = sources[row.case]
    agent = AgentSpec(
        reply_text=src.agent.reply_text,
        voice=src.agent.voice,
        defect=None if row.defect == "none" else row.defect,
    )
    return src.model_copy(
        update={
            "id": f"st{index:02d}_{row.name}",
            "agent": agent,
            "tags": [*src.tags, "selftest"],
            "source_case": src.audio_id,
        }
    )


def _outcome(
    opts: RunOptions, case: Case, rows: list[AttemptRow], clean: RowOutcome | None, delay: bool
) -> RowOutcome:
    baseline = None
    if delay and clean is not None:
        samples = [float(v) for r in clean.rows if (v := r.get(PRIMARY_KPI_METRIC)) is not None]
        baseline = Baseline(
            PRIMARY_KPI_VALUE=samples[-1] if samples else None, PRIMARY_KPI_SAMPLES_MS=samples
        )
    outcome = summarize(
        rows,
        config=load_gates(opts.gates_path),
        baseline=baseline,
        baseline_version="selftest clean row" if baseline is not None else None,
        run_info=RunInfo(run_id=case.id, suite="selftest", transport="local"),
    )
    return RowOutcome(rows=rows, gates=outcome.gates, exit_code=outcome.exit_code)


async def run_selftest(
    opts: RunOptions, rows: Sequence[Row], *, out: Path | None = None
) -> tuple[list[Judgement], Path]:
    """Run the rows, judge them, write selftest.json and selftest.md; return both."""
    sources = {c.id: c for c in load_suite("fast", cases_dir=opts.cases_dir)}
    for extra in SELFTEST_ONLY_CASES:  # cases the matrix runs that no suite does
        case = load_case_file(opts.cases_dir / "defs" / f"{extra}.yaml")
        sources[case.id] = case
    cases = [selftest_case(r, i, sources) for i, r in enumerate(rows)]
    run_id = opts.run_id or new_run_id()
    # one row at a time: a row is judged to +-20 ms in the stage its defect sits in
    opts = dataclasses.replace(opts, run_id=run_id, suite="selftest", jobs=1)
    run = await run_cases(opts, cases)
    by_case: dict[str, list[AttemptRow]] = {}
    for rec in run.records:
        by_case.setdefault(rec.case_id, []).append(rec.row)
    outcomes: list[RowOutcome] = []
    clean: RowOutcome | None = None
    for row, case in zip(rows, cases, strict=True):
        o = _outcome(opts, case, by_case.get(case.id, []), clean, row.check == "delay")
        if row.check == "clean":
            clean = o
        outcomes.append(o)
    judgements = [judge_row(r, o, clean) for r, o in zip(rows, outcomes, strict=True)]
    dest = out or run.run_dir
    write_selftest(dest, judgements, blackbox=opts.blackbox)
    return judgements, dest


def write_selftest(dest: Path, judgements: Sequence[Judgement], *, blackbox: bool) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    body = {
        "blackbox": blackbox,
        "all_match": all(j.ok for j in judgements),
        "rows": [
            {
                "row": j.row.name,
                "defect": j.row.defect,
                "case": j.row.case,
                "expected": j.row.must,
                "got": j.got,
                "match": j.ok,
                "also_fired": j.also_fired,
                "problems": j.problems,
            }
            for j in judgements
        ],
    }
    (dest / "selftest.json").write_text(json.dumps(body, indent=1))
    title = "# AutoRTC self-test" + (" (black-box mode)" if blackbox else "")
    (dest / "selftest.md").write_text(f"{title}\n\n{table(judgements)}\n")


async def selftest_main(opts: RunOptions, *, names: Sequence[str] | None, out: Path | None) -> int:
    from autortc.selftest_matrix import rows_named

    rows = rows_named(names)
    opts.echo(
        f"autortc selftest: {len(rows)} rows" + (" in black-box mode" if opts.blackbox else "")
    )
    judgements, dest = await run_selftest(opts, rows, out=out)
    opts.echo(table(judgements))
    ok = all(j.ok for j in judgements)
    opts.echo(
        f"selftest {'PASSED' if ok else 'FAILED'}: {sum(j.ok for j in judgements)}/{len(judgements)} rows match; {dest / 'selftest.json'}"
    )
    return 0 if ok or opts.blackbox else 1
