#!/usr/bin/env python3
"""AutoRTC's speed on this machine: `output/bench/bench.json` and `bench.md`.

    python scripts/bench.py [--suites mini,fast,nightly] [--jobs 1,4] [--out output/bench]

1. Each suite at each --jobs on the embedded transport: wall time, the real-time floor
   (summary.json: the larger of the longest recording and all recordings over the
   jobs), their ratio, the verdict, the retry rate and report.html's size.
2. Latency under parallelism: `mini --repeat 3` at --jobs 1 and at each larger --jobs;
   the bootstrap 95 % CI of the difference of the eot_to_first_audio P50s (jobs N
   minus jobs 1). A --jobs "does not distort" when the CI contains 0 or lies within
   +-10 ms; the largest such --jobs is reported.
3. Analysis CPU per case after warm-up (scripts/bench_analysis.py on the fast runs),
   with every figure checked against what the runs recorded.
4. The load ramp (`autortc load`, default levels): P50 / P95 per level and the
   capacity estimate.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from autortc.metrics import registry as M  # noqa: E402
from autortc.run_reader import read_rows  # noqa: E402

CLI = [sys.executable, "-m", "autortc.cli"]
BOOT = 2000
FLAT_MS = 10.0


def _children_cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return float(r.ru_utime + r.ru_stime)


def _new_dir(out: Path, before: set[Path]) -> Path:
    (run,) = [p for p in out.iterdir() if p.is_dir() and p not in before]
    return run


def run_suite(suite: str, jobs: int, out: Path, *extra: str) -> dict[str, object]:
    out.mkdir(parents=True, exist_ok=True)
    before = set(out.iterdir())
    cpu0 = _children_cpu_s()
    t0 = time.monotonic()
    proc = subprocess.run(
        [
            *CLI,
            "run",
            "--local",
            "--suite",
            suite,
            "--jobs",
            str(jobs),
            "--output",
            str(out),
            *list(extra),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    wall = time.monotonic() - t0
    cpu_s = _children_cpu_s() - cpu0  # the run and every process under it
    run = _new_dir(out, before)
    s = json.loads((run / "summary.json").read_text())
    rec_s = sum((r.phases_ms.get("conversation") or 0.0) / 1000 for r in read_rows(run))
    html = run / "report.html"
    return {
        "suite": suite,
        "jobs": jobs,
        "extra": list(extra),
        "run_dir": str(run),
        "exit": proc.returncode,
        "verdict": s["verdict"],
        "process_wall_s": round(wall, 1),
        "run_wall_s": s["wall_s"],
        "floor_s": s.get("realtime_floor_s"),
        "startup_s": s.get("startup_s"),
        # the acceptance's measure: wall time less the stack's start-up, over the floor
        "ratio": round((s["wall_s"] - (s.get("startup_s") or 0.0)) / s["realtime_floor_s"], 2)
        if s.get("realtime_floor_s")
        else None,
        "retry_rate": s["retry_rate"],
        "cpu_s": round(cpu_s, 1),
        # CPU per second of recording: above cores / jobs the machine, not the schedule,
        # sets the pace (2 cores, 4 jobs: 0.5)
        "cpu_per_recording_s": round(cpu_s / rec_s, 2) if rec_s else None,
        "kpi_ms": s["PRIMARY_KPI_VALUE"],
        "html_kb": round(html.stat().st_size / 1024, 1) if html.is_file() else None,
        "audio_kb": round(sum(p.stat().st_size for p in (run / "audio").glob("*")) / 1024, 1)
        if (run / "audio").is_dir()
        else None,
    }


def first_reply_latencies(run_dir: Path) -> list[float]:
    from autortc.metrics.rows import final_attempts

    rows = final_attempts(read_rows(run_dir))
    return [float(v) for r in rows if (v := r.get(M.EOT_TO_FIRST_AUDIO)) is not None]


def bootstrap_p50_diff(a: list[float], b: list[float], seed: int = 7) -> tuple[float, float, float]:
    """(P50(b) - P50(a), CI low, CI high) by resampling both groups."""
    rng = np.random.default_rng(seed)
    xa, xb = np.asarray(a), np.asarray(b)
    diffs = [
        float(np.median(rng.choice(xb, len(xb))) - np.median(rng.choice(xa, len(xa))))
        for _ in range(BOOT)
    ]
    lo, hi = np.percentile(diffs, [2.5, 97.5])
    return float(np.median(xb) - np.median(xa)), float(lo), float(hi)


def distortion_row(source: str, j: int, one: list[float], many: list[float]) -> dict[str, object]:
    """eot_to_first_audio at `j` jobs against 1: distorted unless the bootstrap 95 % CI
    of the P50 difference contains 0 or lies within +-FLAT_MS."""
    d, lo, hi = bootstrap_p50_diff(one, many)
    ok = lo <= 0 <= hi or (lo >= -FLAT_MS and hi <= FLAT_MS)
    return {
        "source": source,
        "jobs": j,
        "n": [len(one), len(many)],
        "p50_1_ms": float(np.median(one)),
        "p50_j_ms": float(np.median(many)),
        "p50_diff_ms": round(d, 1),
        "ci95_ms": [round(lo, 1), round(hi, 1)],
        "distorts": not ok,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--suites", default="mini,fast,nightly")
    ap.add_argument("--jobs", default="1,4")
    ap.add_argument("--distortion-suite", default="mini")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--load-levels", default="1,2,4,8,16")
    ap.add_argument("--out", type=Path, default=REPO / "output" / "bench")
    args = ap.parse_args()
    jobs = [int(j) for j in args.jobs.split(",")]
    out = args.out
    runs = out / "runs"
    body: dict[str, object] = {"machine": {"cpus": __import__("os").cpu_count()}}

    suites = []
    for suite in args.suites.split(","):
        for j in jobs:
            r = run_suite(suite, j, runs / f"{suite}-j{j}")
            suites.append(r)
            print(
                f"{suite} --jobs {j}: {r['run_wall_s']} s, floor {r['floor_s']} s, {r['verdict']}"
            )
    body["suites"] = suites

    lat: dict[int, list[float]] = {}
    for j in sorted(set([1, *jobs])):
        r = run_suite(
            args.distortion_suite, j, runs / f"repeat-j{j}", "--repeat", str(args.repeats)
        )
        lat[j] = first_reply_latencies(Path(str(r["run_dir"])))
        print(f"{args.distortion_suite} --repeat {args.repeats} --jobs {j}: n={len(lat[j])}")
    source = f"{args.distortion_suite} --repeat {args.repeats}"
    distortion = [distortion_row(source, j, lat[1], lat[j]) for j in sorted(lat) if j != 1]
    # the suites' own runs at 1 and N jobs say it too, over their own cases
    for suite in {str(s["suite"]) for s in suites}:
        by_j = {int(str(s["jobs"])): Path(str(s["run_dir"])) for s in suites if s["suite"] == suite}
        if 1 in by_j:
            one = first_reply_latencies(by_j[1])
            for j in sorted(k for k in by_j if k != 1):
                distortion.append(distortion_row(suite, j, one, first_reply_latencies(by_j[j])))
    body["distortion"] = distortion
    distorting = {d["jobs"] for d in distortion if d["distorts"]}
    flat = [1] + [d["jobs"] for d in distortion if d["jobs"] not in distorting]
    body["largest_undistorted_jobs"] = max(flat)

    fast_runs = [s["run_dir"] for s in suites if s["suite"] == "fast"]
    if fast_runs:
        proc = subprocess.run(
            [
                sys.executable,
                str(REPO / "scripts" / "bench_analysis.py"),
                *map(str, fast_runs),
                "--out",
                str(out / "analysis.json"),
            ],
            capture_output=True,
            text=True,
        )
        body["analysis"] = json.loads((out / "analysis.json").read_text())
        print(proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else proc.stderr[-500:])

    load_out = out / "load"
    subprocess.run(
        [
            *CLI,
            "load",
            "--local",
            "--levels",
            args.load_levels,
            "--output",
            str(runs / "load"),
            "--out",
            str(load_out),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    if (load_out / "load.json").is_file():
        load = json.loads((load_out / "load.json").read_text())
        body["load"] = {
            "levels": [
                {
                    k: lv[k]
                    for k in ("rooms", "p50_ms", "p95_ms", "errors", "false_endpoints", "rtf")
                }
                for lv in load["levels"]
            ],
            "flat_level": load["flat_level"],
            "capacity": load["capacity"]["how"],
        }

    out.mkdir(parents=True, exist_ok=True)
    (out / "bench.json").write_text(json.dumps(body, indent=1))
    (out / "bench.md").write_text(render_md(body))
    print((out / "bench.md").read_text())
    return 0


def _f(v: object, spec: str = ".1f") -> str:
    return "–" if v is None else format(v, spec) if isinstance(v, float | int) else str(v)  # noqa: RUF001


def render_md(body: dict) -> str:
    out = [
        "| suite | --jobs | wall s | start-up s | real-time floor s | (wall - start-up) / floor "
        "| CPU s | CPU s per s recorded | verdict | retry rate | KPI ms | report.html KB | audio KB |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in body["suites"]:
        out.append(
            f"| {s['suite']} | {s['jobs']} | {_f(s['run_wall_s'])} | {_f(s['startup_s'])} | "
            f"{_f(s['floor_s'])} | {_f(s['ratio'], '.2f')} | {_f(s['cpu_s'])} | "
            f"{_f(s['cpu_per_recording_s'], '.2f')} | {s['verdict']} | {_f(s['retry_rate'], '.2f')} | "
            f"{_f(s['kpi_ms'])} | {_f(s['html_kb'])} | {_f(s['audio_kb'])} |"
        )
    out += [
        "",
        "| samples | --jobs vs 1 | n | P50 at 1 ms | P50 at N ms | diff ms | 95 % CI ms | distorts |",
    ]
    out += ["|---|---|---|---|---|---|---|---|"]
    for d in body["distortion"]:
        out.append(
            f"| {d.get('source', '')} | {d['jobs']} | {d['n'][0]} / {d['n'][1]} | {d['p50_1_ms']:.1f} | "
            f"{d['p50_j_ms']:.1f} | {d['p50_diff_ms']:+.1f} | "
            f"[{d['ci95_ms'][0]:+.1f}, {d['ci95_ms'][1]:+.1f}] | {d['distorts']} |"
        )
    out += ["", f"Largest --jobs that does not distort latency: {body['largest_undistorted_jobs']}"]
    if "analysis" in body:
        a = body["analysis"]
        out += [
            "",
            f"Analysis CPU per case after warm-up: median {a['analysis_cpu_ms']['median']:.1f} ms, "
            f"mean {a['analysis_cpu_ms']['mean']:.1f} ms, max {a['analysis_cpu_ms']['max']:.1f} ms "
            f"over {a['attempts']} attempts; loading {a['load_cpu_ms']['median']:.1f} ms; "
            f"{len(a['figures_mismatched'])} attempts with a figure out of tolerance",
        ]
    if "load" in body:
        out += ["", "| rooms | P50 ms | P95 ms | errors | false endpoints | agent RTF |"]
        out += ["|---|---|---|---|---|---|"]
        for lv in body["load"]["levels"]:
            out.append(
                f"| {lv['rooms']} | {_f(lv['p50_ms'])} | {_f(lv['p95_ms'])} | {lv['errors']} | "
                f"{lv['false_endpoints']} | {_f(lv['rtf'], '.3f')} |"
            )
        out += ["", f"Capacity: {body['load']['capacity']}"]
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    sys.exit(main())
