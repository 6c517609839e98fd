"""Read the JSON of scripts/bench_qwen_gpu.py and list what is wrong with it (exit 1).

    python scripts/qwen_device/check.py output/bench/qwen_dryrun/qwen_gpu.json
    python scripts/qwen_device/check.py /work/.device/.../qwen_gpu.json --gpu

Every mode that ran: no phase errored or was cut by the budget, the weights say they
are random, no LiveKit was imported, the engine ran the pinned transformers, three runs
gave one hash, the stream stayed within the engine's stated tolerance, and launches per
step were counted. With --gpu: graphs on ran too and gave the same codes and audio as
graphs off. The tts-regress summary beside the JSON (tts_regress_summary.json), where
there is one: its verdict PASS, and with --gpu graphs_on_vs_off PASSed for every text.
Prints the headline figures either way.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

PINNED_TRANSFORMERS = "transformers 4.57.3"


def problems(r: dict[str, Any], *, gpu: bool) -> list[str]:
    found = []
    if "RANDOM WEIGHTS" not in str(r.get("weights")):
        found.append(f"weights: {r.get('weights')!r} do not say RANDOM WEIGHTS")
    if r.get("environment", {}).get("livekit_imported") is not False:
        found.append("environment.livekit_imported is not false")
    modes = r.get("modes", {})
    ran = {k: m for k, m in modes.items() if "skipped" not in m}
    if gpu and set(ran) != {"graphs_off", "graphs_on"}:
        found.append(f"modes that ran: {sorted(ran)}, not graphs_off and graphs_on")
    for name, mode in ran.items():
        if "error" in mode:
            found.append(f"{name}: {mode['error']}")
            continue
        if PINNED_TRANSFORMERS not in mode.get("version", ""):
            found.append(f"{name}: version {mode.get('version')!r} lacks {PINNED_TRANSFORMERS}")
        for phase, v in mode.items():
            if isinstance(v, dict) and ("error" in v or "skipped" in v):
                found.append(f"{name}.{phase}: {v.get('error') or v.get('skipped')}")
        det = mode.get("determinism_medium", {})
        if (det.get("offline_distinct_hashes"), det.get("stream_distinct_hashes")) != (1, 1):
            found.append(f"{name}.determinism_medium: {det}")
        for text in ("medium", "long"):
            ex = mode.get(f"exactness_{text}", {})
            if ex.get("within_stated") is not True:
                found.append(f"{name}.exactness_{text}: within_stated {ex.get('within_stated')}")
        if "code_predictor_per_frame" not in mode.get("launches_per_step", {}):
            found.append(f"{name}.launches_per_step: not counted")
    if gpu:
        cmp = r.get("graphs_on_vs_off", {})
        audio = cmp.get("same_audio") or {}
        if cmp.get("same_codes") is not True or not audio or not all(audio.values()):
            found.append(f"graphs_on_vs_off: {cmp}")
    return found


def regress_problems(summary: dict[str, Any], *, gpu: bool) -> list[str]:
    found = []
    if summary.get("verdict") != "PASS":
        failed = [
            f"{g['name']} [{g['scope']}]"
            for t in summary.get("texts", [])
            for g in t.get("gates", [])
            if g.get("verdict") == "FAIL"
        ]
        found.append(f"tts-regress verdict {summary.get('verdict')}: {', '.join(failed)}")
    if gpu:
        graphs = [
            g["verdict"]
            for t in summary.get("texts", [])
            for g in t.get("gates", [])
            if g.get("name") == "graphs_on_vs_off"
        ]
        if not graphs or set(graphs) != {"PASS"}:
            found.append(f"tts-regress graphs_on_vs_off: {graphs}")
    return found


def headline(r: dict[str, Any]) -> list[str]:
    lines = [f"{r.get('weights')}; {r.get('environment', {}).get('gpu') or 'no GPU'}"]
    for name, g in r.get("goal", {}).items():
        if isinstance(g, dict):
            lines.append(
                f"{name}: TTFA P95 {g['ttfa_p95_ms']} ms (goal met {g['ttfa_goal_met']}), "
                f"stream RTF long {g['stream_rtf_long']} (goal met {g['rtf_goal_met']})"
            )
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("json", type=Path)
    ap.add_argument("--gpu", action="store_true", help="graphs on must have run and agreed")
    args = ap.parse_args(argv)
    try:
        r = json.loads(args.json.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        print(f"check: {args.json}: {e}", file=sys.stderr)
        return 2
    print("\n".join(headline(r)))
    found = problems(r, gpu=args.gpu)
    regress = args.json.parent / "tts_regress_summary.json"
    if regress.exists():
        summary = json.loads(regress.read_text(encoding="utf-8"))
        print(f"tts-regress: {summary.get('verdict')} ({summary.get('version')})")
        found += regress_problems(summary, gpu=args.gpu)
    elif args.gpu:
        found.append(f"no {regress.name} beside the JSON")
    for p in found:
        print(f"PROBLEM {p}")
    print(f"check: {'FAIL' if found else 'OK'} ({len(found)} problems)")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
