#!/usr/bin/env python3
"""Analysis CPU per case, and whether the figures still match what a run recorded.

    python scripts/bench_analysis.py RUN_DIR [RUN_DIR ...] [--out output/bench/analysis.json]

Re-analyses every attempt of the given run directories in this process (BLAS single
threaded, as the harness runs it), after one warm-up attempt, and reports the CPU
(time.process_time) of loading and of analysing each attempt. Each recomputed figure
is compared with the one the run wrote (metrics.json, perhaps by an older version of
the code) against the metric's registry tolerance. Exit 0 when every figure matches.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from autortc.artifacts import load_attempt
from autortc.attempt import DEFAULT_WITHIN_MS
from autortc.case_schema import CASES_DIR, load_case_file
from autortc.metrics import registry as M
from autortc.metrics.attempt import analyze_attempt
from autortc.metrics.rows import AttemptRow
from autortc.run_reader import attempt_dirs


def _case_kwargs(case_id: str) -> dict[str, object]:
    """What the orchestrator takes from the case (its expect block, noisy turns)."""
    path = CASES_DIR / "defs" / f"{case_id}.yaml"
    if not path.is_file():
        return {}
    case = load_case_file(path)
    return {
        "expects_reply": case.expect.reply,
        "reply_within_ms": case.expect.within_ms or DEFAULT_WITHIN_MS,
        "noisy_turns": frozenset(k for k, t in enumerate(case.turns) if t.noise is not None),
    }


def _analyse(att: Path) -> tuple[AttemptRow, AttemptRow, float, float]:
    old = AttemptRow.from_dict(json.loads((att / "metrics.json").read_text()))
    kwargs = _case_kwargs(old.case_id)
    t0 = time.process_time()
    inputs = load_attempt(
        att,
        case_id=old.case_id,
        priority=old.priority,
        attempt=old.attempt,
        trace_id=old.trace_id,
        infra_status=old.capture_status if old.is_infra else None,
        **kwargs,  # type: ignore[arg-type]
    )
    t1 = time.process_time()
    new = analyze_attempt(inputs)
    return old, new, (t1 - t0) * 1000, (time.process_time() - t1) * 1000


def _mismatches(old: AttemptRow, new: AttemptRow) -> list[str]:
    out = []
    for metric in M.REGISTRY:
        a, b = old.values(metric), new.values(metric)
        if len(a) != len(b):
            out.append(f"{metric.name}: {a} -> {b}")
            continue
        for x, y in zip(a, b, strict=True):
            if abs(x - y) > metric.tolerance:
                out.append(f"{metric.name}: {x} -> {y} (tolerance {metric.tolerance})")
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run_dirs", type=Path, nargs="+")
    ap.add_argument("--out", type=Path, default=Path("output/bench/analysis.json"))
    args = ap.parse_args()
    atts = [a for d in args.run_dirs for a in attempt_dirs(d) if (a / "metrics.json").is_file()]
    if not atts:
        print("no attempts found", file=sys.stderr)
        return 2
    _analyse(atts[0])  # warm-up: imports, caches
    load_ms, analyse_ms, problems = [], [], {}
    for att in atts:
        old, new, lm, am = _analyse(att)
        load_ms.append(lm)
        analyse_ms.append(am)
        if bad := _mismatches(old, new):
            problems[str(att)] = bad
    body = {
        "attempts": len(atts),
        "load_cpu_ms": {"median": statistics.median(load_ms), "max": max(load_ms)},
        "analysis_cpu_ms": {
            "median": statistics.median(analyse_ms),
            "mean": statistics.fmean(analyse_ms),
            "max": max(analyse_ms),
        },
        "figures_mismatched": problems,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(body, indent=1))
    print(json.dumps({k: v for k, v in body.items() if k != "figures_mismatched"}))
    print(f"{len(problems)} of {len(atts)} attempts with a figure out of tolerance")
    for att, bad in list(problems.items())[:10]:
        print(f"  {att}: {'; '.join(bad[:4])}")
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())
