#!/usr/bin/env python3
"""Does a stray participant change what AutoRTC measures? (issue 11's acceptance)

    python scripts/stray_check.py [--runs 5] [--suite mini] [--out output/stray_check]

Runs the suite N times clean and N times with `--stray` (a participant that sends
garbage and forged messages into every room), on the embedded transport, then compares:
- the final statuses and the verdict of each run (must be the same);
- Ring 0 and Ring 1 per case: the stray runs' median within each metric's registry
  tolerance of the clean runs' median, or, for a figure whose clean runs alone spread
  wider than that tolerance (the post_rms of a reply cut by a barge-in moves with the
  cut), within 1.5 x that run-to-run spread (autortc/metrics/agreement.py says why);
- latency, which varies from run to run anyway: its distribution (median, P95) side by
  side, not judged.
Writes `<out>/stray_check.json`; exit 0 only when the statuses, verdicts and Ring 0/1
medians agree.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from autortc.metrics import registry as M
from autortc.metrics.agreement import BY_SPREAD, BY_TOLERANCE, SPREAD_FACTOR, agreement
from autortc.metrics.replies import RING0, RING1
from autortc.metrics.rows import AttemptRow, final_attempts
from autortc.run_reader import rows_from_attempts


def run_suite(suite: str, out: Path, stray: bool) -> Path:
    before = set(out.glob("*")) if out.is_dir() else set()
    args = [sys.executable, "-m", "autortc.cli", "run", "--local", "--suite", suite]
    args += ["--output", str(out), *(["--stray"] if stray else [])]
    subprocess.run(args, check=False, capture_output=True, text=True)
    (run,) = [p for p in out.glob("*") if p.is_dir() and p not in before]
    return run


def finals(run: Path) -> list[AttemptRow]:
    return final_attempts(rows_from_attempts(run))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--suite", default="mini")
    ap.add_argument("--out", type=Path, default=Path("output/stray_check"))
    ap.add_argument(
        "--judge-only", action="store_true", help="judge the runs already under --out again"
    )
    args = ap.parse_args()
    runs: dict[str, list[Path]] = {"clean": [], "stray": []}
    if args.judge_only:
        for mode in runs:
            runs[mode] = sorted(p for p in (args.out / mode).glob("*") if p.is_dir())
    for k in range(0 if args.judge_only else args.runs):
        for mode in ("clean", "stray"):  # interleaved: the machine's load hits both alike
            run = run_suite(args.suite, args.out / mode, stray=mode == "stray")
            runs[mode].append(run)
            print(f"[{k + 1}/{args.runs}] {mode}: {run.name}", flush=True)
    report: dict[str, object] = {}
    problems: list[str] = []
    verdicts = {
        m: [json.loads((r / "summary.json").read_text())["verdict"] for r in rs]
        for m, rs in runs.items()
    }
    statuses = {
        m: [{r.case_id: r.capture_status for r in finals(run)} for run in rs]
        for m, rs in runs.items()
    }
    report["verdicts"], report["statuses"] = verdicts, statuses
    if set(verdicts["clean"]) != set(verdicts["stray"]) or len(set(verdicts["clean"])) != 1:
        problems.append(f"verdicts differ: {verdicts}")
    if any(s != statuses["clean"][0] for m in statuses for s in statuses[m]):
        problems.append("final statuses differ between runs")
    by_case: dict[str, dict[str, dict[str, list[float]]]] = {}
    for mode, rs in runs.items():
        for run in rs:
            for row in finals(run):
                for metric in (*RING0, *RING1, M.EOT_TO_FIRST_AUDIO, M.DROPPED_WRONG_SENDER):
                    v = row.get(metric)
                    if v is not None:
                        by_case.setdefault(row.case_id, {}).setdefault(metric.name, {}).setdefault(
                            mode, []
                        ).append(float(v))
    figures = []
    for case, metrics in sorted(by_case.items()):
        for metric in (*RING0, *RING1):
            vals = metrics.get(metric.name, {})
            a = agreement(metric, vals.get("clean", []), vals.get("stray", []))
            if a is None:
                continue
            figures.append(
                {
                    "case": case,
                    "metric": a.metric,
                    "clean_median": a.clean_median,
                    "stray_median": a.other_median,
                    "tolerance": a.tolerance,
                    "clean_range": list(a.clean_range),
                    "bound": a.bound,
                    "judged_by": a.judged_by,
                    "ok": a.ok,
                }
            )
            if not a.ok:
                problems.append(f"{case} {a.describe()}")
    latency = {}
    for mode in runs:
        vals = sorted(
            v for m in by_case.values() for v in m.get(M.EOT_TO_FIRST_AUDIO.name, {}).get(mode, [])
        )
        if vals:
            latency[mode] = {
                "n": len(vals),
                "median": statistics.median(vals),
                "p95": vals[min(len(vals) - 1, round(0.95 * (len(vals) - 1)))],
            }
    dropped = [
        v for m in by_case.values() for v in m.get(M.DROPPED_WRONG_SENDER.name, {}).get("stray", [])
    ]
    report.update(
        figures=figures, latency=latency, stray_wrong_sender_drops=dropped, problems=problems
    )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "stray_check.json").write_text(json.dumps(report, indent=1, default=str))
    print(f"verdicts: {verdicts}")
    by_tol = sum(f["ok"] and f["judged_by"] == BY_TOLERANCE for f in figures)
    by_spread = sum(f["ok"] and f["judged_by"] == BY_SPREAD for f in figures)
    print(
        f"Ring 0/1 medians: {by_tol + by_spread}/{len(figures)} agree "
        f"({by_tol} within the registry tolerance, {by_spread} within "
        f"{SPREAD_FACTOR:g} x the clean runs' own run-to-run spread)"
    )
    print(f"eot_to_first_audio: {latency}")
    print(f"wrong-sender drops per stray attempt: {dropped}")
    print("stray check " + ("PASSED" if not problems else "FAILED: " + "; ".join(problems)))
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())
