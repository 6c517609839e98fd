"""`autortc calibrate`: the harness measures its own error on eot_to_first_audio_ms.

For each codec and link delay it runs the calibration agent (agent/calibration.py) on
the embedded transport over `turns` single-turn cases per D (the calibration case's
audio, `cases/defs/calibration_eot.yaml`), reads each turn's measured
`eot_to_first_audio_ms` and the D the agent achieved, and compares the measurement
with the true value (metrics/calibration.py). It writes calibration.json and
calibration.md and prints the table; exit 0 when every configuration is within the
bounds (|bias| <= 1 ms, P95 |error| <= 2 ms), 1 when one is not, 2 for bad input.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Sequence
from pathlib import Path

from autortc.case_schema import REPO_ROOT, AgentSpec, Case, load_case_file
from autortc.errors import InputError
from autortc.metrics import registry as M
from autortc.metrics.calibration import (
    BIAS_BOUND_MS,
    P95_ABS_BOUND_MS,
    CalibrationTurn,
    ErrorSummary,
    one_way_path_ms,
    summarise,
)
from autortc.network.profiles import LinkProfile, NetworkProfile
from autortc.network.room import CODECS, RoomNetwork
from autortc.orchestrator import RunOptions, new_run_id, run_cases

CALIBRATION_PATH = REPO_ROOT / "golden" / "calibration.json"  # the committed measurement
DEFAULT_DELAYS_MS = (0, 150, 400)
DEFAULT_ONE_WAY_MS = (0.0, 40.0)
PLAYOUT_DELAY_MS = 40.0  # the clean profile's
SOURCE_CASE = "calibration_eot"


def calibration_cases(cases_dir: Path, delays_ms: Sequence[int], turns: int) -> list[Case]:
    """`turns` single-turn cases per D, all on the calibration case's committed audio."""
    src = load_case_file(cases_dir / "defs" / f"{SOURCE_CASE}.yaml")
    out = []
    for d in delays_ms:
        for k in range(turns):
            agent = AgentSpec(reply_text="(a tone)", calibration_delay_ms=d)
            out.append(
                src.model_copy(
                    update={
                        "id": f"cal_d{d}_{k:02d}",
                        "agent": agent,
                        "source_case": src.audio_id,
                        "timeout_s": 30.0,
                        "record_pad_ms": 1500,
                    }
                )
            )
    return out


def network_for(codec: str, one_way_ms: float) -> RoomNetwork:
    link = LinkProfile(one_way_delay_ms=one_way_ms)
    profile = NetworkProfile(uplink=link, downlink=link, playout_delay_ms=PLAYOUT_DELAY_MS)
    return RoomNetwork(profile, codec=codec, name=f"calibration_{one_way_ms:g}ms")  # type: ignore[arg-type]


def config_name(codec: str, one_way_ms: float) -> str:
    return f"{codec}, {one_way_ms:g} ms one way"


async def run_config(
    opts: RunOptions, cases: list[Case], *, codec: str, one_way_ms: float
) -> list[CalibrationTurn]:
    run_opts = dataclasses.replace(
        opts, network=network_for(codec, one_way_ms), suite="calibration", run_id=new_run_id()
    )
    run = await run_cases(run_opts, cases)
    by_id = {c.id: c for c in cases}
    out = []
    for rec in run.records:
        if rec.row.attempt != max(r.row.attempt for r in run.records if r.case_id == rec.case_id):
            continue  # a retried attempt: its last one counts
        turn = rec.row.turns[0] if rec.row.turns else None
        measured = turn.get(M.EOT_TO_FIRST_AUDIO) if turn is not None else None
        achieved = turn.get(M.AGENT_EOT_TO_FIRST_AUDIO) if turn is not None else None
        delay = by_id[rec.case_id].agent.calibration_delay_ms or 0
        up, down = transit_floors(rec.dir, one_way_ms)
        path = sum(
            one_way_path_ms(transit_ms=t, playout_delay_ms=PLAYOUT_DELAY_MS, codec=codec)
            for t in (up, down)
        )
        out.append(
            CalibrationTurn(
                config=config_name(codec, one_way_ms),
                case_id=rec.case_id,
                delay_ms=delay,
                achieved_delay_ms=None if achieved is None else float(achieved),
                path_ms=path,
                measured_ms=None if measured is None else float(measured),
            )
        )
    return out


def transit_floors(attempt_dir: Path, one_way_ms: float) -> tuple[float, float]:
    """(uplink, downlink) transit floors as the probe's jitter buffers measured them on
    the user's and the agent's tracks (the agent hears the user over the same server
    hop); the configured one-way delay where one was not recorded."""
    try:
        body = json.loads((attempt_dir / "probe_result.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return one_way_ms, one_way_ms

    def floor(key: str) -> float:
        stats = body.get(key) or {}
        v = stats.get("min_transit_ms") if isinstance(stats, dict) else None
        return float(v) if isinstance(v, int | float) else one_way_ms

    return floor("user_track_network"), floor("agent_track_network")


def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:+.2f}"


def render_md(summaries: dict[str, ErrorSummary], turns: Sequence[CalibrationTurn]) -> str:
    lines = [
        "# AutoRTC calibration: the error of eot_to_first_audio_ms",
        "",
        f"Bounds: |bias| <= {BIAS_BOUND_MS:g} ms, P95 |error| <= {P95_ABS_BOUND_MS:g} ms. "
        "true = the D the calibration agent achieved + both directions' configured delays "
        "(packetization, the link's measured transit floor, playout delay, codec delay); "
        "error = measured - true.",
        "",
        "| configuration | turns | missing | bias ms | P95 abs error ms | max abs error ms "
        "| SD ms | agent aim P95 ms | verdict |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, s in summaries.items():
        verdict = "PASS" if s.passed else "FAIL"
        lines.append(
            f"| {name} | {s.n} | {s.missing} | {_fmt(s.bias_ms)} | {_fmt(s.p95_abs_ms)} "
            f"| {_fmt(s.max_abs_ms)} | {_fmt(s.sd_ms)} | {_fmt(s.aim_p95_abs_ms)} | {verdict} |"
        )
    lines += [
        "",
        "| configuration | case | D ms | achieved D ms | true ms | measured ms | error ms |",
    ]
    lines.append("|---|---|---|---|---|---|---|")
    for t in turns:
        lines.append(
            f"| {t.config} | {t.case_id} | {t.delay_ms} | {_fmt(t.achieved_delay_ms)} "
            f"| {_fmt(t.true_ms)} | {_fmt(t.measured_ms)} | {_fmt(t.error_ms)} |"
        )
    return "\n".join(lines) + "\n"


def write_calibration(
    out: Path, summaries: dict[str, ErrorSummary], turns: Sequence[CalibrationTurn]
) -> None:
    out.mkdir(parents=True, exist_ok=True)
    body = {
        "measured": f"{time.strftime('%Y-%m-%d', time.gmtime())}, {os.cpu_count()} cores",
        "bounds": {"bias_ms": BIAS_BOUND_MS, "p95_abs_error_ms": P95_ABS_BOUND_MS},
        "configs": {k: {**dataclasses.asdict(v), "passed": v.passed} for k, v in summaries.items()},
        "turns": [
            {**dataclasses.asdict(t), "true_ms": t.true_ms, "error_ms": t.error_ms} for t in turns
        ],
    }
    (out / "calibration.json").write_text(json.dumps(body, indent=1) + "\n", encoding="utf-8")
    (out / "calibration.md").write_text(render_md(summaries, turns), encoding="utf-8")


def parse_list(text: str, what: str, kind: type[int] | type[float]) -> list[float]:
    try:
        values = [kind(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise InputError(f"{what} {text!r}: expected comma-separated numbers") from None
    if not values or any(v < 0 for v in values):
        raise InputError(f"{what} {text!r}: expected one or more numbers >= 0")
    return values


async def calibrate_main(
    opts: RunOptions,
    *,
    delays_ms: Sequence[int],
    one_way_ms: Sequence[float],
    codecs: Sequence[str],
    turns: int,
    out: Path,
) -> int:
    if opts.livekit_url is not None:
        raise InputError("calibrate runs on the embedded transport (--local): it sets the delays")
    for codec in codecs:
        if codec not in CODECS:
            raise InputError(f"--codecs: unknown codec {codec!r} (expected pcm or opus)")
    cases = calibration_cases(opts.cases_dir, delays_ms, turns)
    all_turns: list[CalibrationTurn] = []
    summaries: dict[str, ErrorSummary] = {}
    for codec in codecs:
        for d in one_way_ms:
            opts.echo(f"autortc calibrate: {config_name(codec, d)}, {len(cases)} turns")
            got = await run_config(opts, cases, codec=codec, one_way_ms=d)
            all_turns += got
            s = summaries[config_name(codec, d)] = summarise(got)
            opts.echo(
                f"  bias {_fmt(s.bias_ms)} ms, P95 |error| {_fmt(s.p95_abs_ms)} ms, "
                f"{s.n} turns, {s.missing} missing: {'PASS' if s.passed else 'FAIL'}"
            )
    write_calibration(out, summaries, all_turns)
    opts.echo(f"calibration: {out / 'calibration.md'}")
    return 0 if summaries and all(s.passed for s in summaries.values()) else 1


def kpi_error_note(path: Path = CALIBRATION_PATH, *, transport: str = "local") -> str | None:
    """One line for the report's KPI box: the harness's error as `autortc calibrate`
    measured it (the committed calibration.json), or None when there is none."""
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
        configs = body["configs"]
        n = sum(int(c["n"]) for c in configs.values())
        biases = [float(c["bias_ms"]) for c in configs.values() if c["bias_ms"] is not None]
        p95 = max(float(c["p95_abs_ms"]) for c in configs.values() if c["p95_abs_ms"] is not None)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not biases:
        return None
    where = str(body.get("measured", "")).strip()
    note = (
        f"bias {min(biases):+.1f} to {max(biases):+.1f} ms, P95 |error| <= {p95:.1f} ms over "
        f"{n} turns ({len(configs)} configurations, `autortc calibrate` on the embedded "
        f"transport{', ' + where if where else ''})"
    )
    if transport != "local":
        note += "; on LiveKit the network's share is not calibrated"
    return note
