"""`--shard K/N` and `autortc merge RUN_DIR...`: a suite split over CI runners, and
put back together.

A shard is the cases whose position in the suite, counted from 0, is K-1 modulo N:
deterministic, disjoint, every case in exactly one shard, and sizes within one of
each other. `--repeat` repeats within a shard, so all repeats of a case stay together.

Merge reads each shard's attempt rows back (run_reader), refuses a case that two
runs both measured, and judges the union as one run: the same gates, KPI and
verdict as had the suite run unsharded, written as one report.md, summary.json,
metrics.csv and junit.xml, and report.html with each case's waveforms and audio
rebuilt from its shard's attempt directory (the recordings stay in the shards'
directories, listed in `merged_from.json`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from autortc.artifacts import load_attempt
from autortc.errors import ArtifactError, InputError
from autortc.gates import load_gates
from autortc.metrics.rows import AttemptRow, final_attempts
from autortc.report.html import CaseView
from autortc.report.outcome import RunInfo, SuiteOutcome, summarize
from autortc.report.views import case_view
from autortc.report.write import write_reports
from autortc.run_reader import read_rows, read_summary

T = TypeVar("T")


def parse_shard(text: str) -> tuple[int, int]:
    """ "K/N" -> (K, N) with 1 <= K <= N; else an InputError naming --shard."""
    try:
        k_s, n_s = text.split("/")
        k, n = int(k_s), int(n_s)
    except ValueError:
        raise InputError(f"--shard {text!r}: expected K/N, e.g. 2/4") from None
    if not 1 <= k <= n:
        raise InputError(f"--shard {text}: K must be 1..N")
    return k, n


def shard_of(items: Sequence[T], k: int, n: int) -> list[T]:
    """The items of shard K of N (see module doc)."""
    return [item for i, item in enumerate(items) if i % n == k - 1]


def merge_rows(runs: Sequence[tuple[Path, list[AttemptRow]]]) -> list[AttemptRow]:
    """The union of the runs' rows; a case measured in two runs is an InputError."""
    owner: dict[str, Path] = {}
    merged: list[AttemptRow] = []
    for run_dir, rows in runs:
        for case_id in dict.fromkeys(r.case_id for r in rows):
            if case_id in owner:
                raise InputError(
                    f"{run_dir}: case {case_id!r} is also in {owner[case_id]}: "
                    "merge takes disjoint shards"
                )
            owner[case_id] = run_dir
        merged.extend(rows)
    return merged


def _views(
    rows: Sequence[AttemptRow], owner: dict[str, Path], summaries: Sequence[dict[str, object]]
) -> list[CaseView]:
    """The report.html views of the final attempts, read from their shard's directory;
    one that cannot be read is left out (the page says so)."""
    blackbox = any(bool(s.get("blackbox")) for s in summaries)
    views = []
    for r in final_attempts(rows):
        if r.repeat is not None and r.repeat > 1:
            continue
        try:
            inputs = load_attempt(
                owner[r.case_id] / r.case_id / r.tag,
                case_id=r.case_id,
                priority=r.priority,
                attempt=r.attempt,
                trace_id=r.trace_id,
                infra_status=r.capture_status if r.is_infra else None,
                blackbox=blackbox,
            )
        except (ArtifactError, KeyError):
            continue
        views.append(case_view(inputs, r))
    return views


def merge_main(
    run_dirs: Sequence[Path],
    *,
    output: Path,
    gates_path: Path | None = None,
    baseline_path: Path | None = None,
    echo: Callable[[str], object] = print,
) -> int:
    """Merge shard runs into `output/<merged run id>`; returns the merged exit code."""
    if not run_dirs:
        raise InputError("merge: give at least one RUN_DIR")
    from autortc.suite import load_baseline

    config = load_gates(gates_path)
    baseline, version = load_baseline(baseline_path) if baseline_path else (None, None)
    summaries = [read_summary(Path(d), needs="run_id") for d in run_dirs]
    runs = [(Path(d), read_rows(Path(d))) for d in run_dirs]
    rows = merge_rows(runs)
    suites = sorted({str(s.get("suite") or "") for s in summaries})
    transports = sorted({str(s.get("transport") or "") for s in summaries})
    incomplete = [f"{s['run_id']}: {s['incomplete']}" for s in summaries if s.get("incomplete")]
    walls = [float(str(s["wall_s"])) for s in summaries if s.get("wall_s") is not None]
    run_id = "merged-" + time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    info = RunInfo(
        run_id=run_id,
        suite="+".join(suites),
        transport="+".join(transports),
        started_unix_s=round(time.time(), 3),
        wall_s=max(walls) if walls else None,  # the shards ran side by side
        incomplete="; ".join(incomplete) or None,
    )
    outcome: SuiteOutcome = summarize(
        rows, config=config, baseline=baseline, baseline_version=version, run_info=info
    )
    out_dir = output / run_id
    owner = {r.case_id: d for d, run_rows in runs for r in run_rows}
    paths = write_reports(out_dir, outcome, _views(rows, owner, summaries))
    (out_dir / "merged_from.json").write_text(
        json.dumps({"runs": [str(Path(d).resolve()) for d in run_dirs]}, indent=1)
    )
    s = outcome.summary
    echo(
        f"merged {len(run_dirs)} runs, {s.n_cases} cases, {s.n_attempts} attempts: "
        f"PRIMARY_KPI {s.PRIMARY_KPI_NAME} = {s.PRIMARY_KPI_VALUE} ms"
    )
    echo(f"VERDICT {s.verdict} (exit {s.exit_code}); report: {paths['md']}")
    return outcome.exit_code
