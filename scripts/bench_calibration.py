#!/usr/bin/env python3
"""The benchmark's calibration part: the harness's own error on eot_to_first_audio_ms.

    python scripts/bench_calibration.py [--turns 10] [--out output/bench]

Runs `autortc calibrate` (the calibration agent on the embedded transport: D = 0, 150
and 400 ms, PCM and Opus, one-way delays 0 and 40 ms, `--turns` per D and
configuration) and writes `<out>/calibration.json`: calibrate's own JSON (per
configuration: turns, bias, P95 |error|, max |error|, SD, the agent's aim; every turn)
plus the wall time and the machine. Prints the summary table. Exit: calibrate's.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--turns", type=int, default=10, help="turns per D and configuration")
    ap.add_argument("--jobs", type=int, default=None, help="rooms at once (calibrate's default)")
    ap.add_argument("--out", type=Path, default=REPO / "output" / "bench")
    args = ap.parse_args()
    work = args.out / "calibration"
    cmd = [
        sys.executable,
        "-m",
        "autortc.cli",
        "calibrate",
        "--local",
        "--turns",
        str(args.turns),
        "--output",
        str(work / "runs"),
        "--out",
        str(work),
    ]
    if args.jobs is not None:
        cmd += ["--jobs", str(args.jobs)]
    t0 = time.monotonic()
    proc = subprocess.run(cmd, cwd=REPO, check=False)
    wall_s = time.monotonic() - t0
    result = work / "calibration.json"
    if not result.is_file():
        print(f"bench_calibration: calibrate wrote no {result} (exit {proc.returncode})")
        return proc.returncode or 2
    body = json.loads(result.read_text())
    body["wall_s"] = round(wall_s, 1)
    body["machine"] = {"cpus": os.cpu_count()}
    body["command"] = " ".join(cmd[1:])
    (args.out / "calibration.json").write_text(json.dumps(body, indent=1) + "\n")
    print(f"calibration: {wall_s:.0f} s; {args.out / 'calibration.json'}")

    def fmt(v: float | None) -> str:
        return "-" if v is None else f"{v:+.2f}"

    for name, c in body["configs"].items():
        print(
            f"  {name}: {c['n']} turns, bias {fmt(c['bias_ms'])} ms, "
            f"P95 |error| {fmt(c['p95_abs_ms'])} ms, max {fmt(c['max_abs_ms'])} ms"
        )
    return proc.returncode


if __name__ == "__main__":
    raise SystemExit(main())
