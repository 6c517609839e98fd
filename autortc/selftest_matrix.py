"""The self-test matrix: which defect must make which gate or status fire (pure).

Each row injects one defect into the reference agent on one named case and states what
the harness must report. `judge_row` compares a row's outcome with that, lists every
other gate that fired (with its detail), and says whether the row matches. The clean
row must fire nothing: that is what makes a PASS mean something.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from autortc.errors import EXIT_FAIL, EXIT_INFRA, EXIT_PASS, InputError
from autortc.gates import GateResult, Verdict
from autortc.metrics import registry as M
from autortc.metrics.rows import AttemptRow, final_attempts
from autortc.metrics.status import BARRIER_TIMEOUT, POST_SILENT, REPLY_INCOMPLETE

FIRED = (Verdict.FAIL, Verdict.WARN, Verdict.INFRA)
# the issue's ±10 ms, plus the 10 ms frame grid: the pump hands frames over on a 10 ms
# tick, so each of the two figures compared carries up to a frame of phase
DELAY_TOLERANCE_MS = 20.0
MEL_UP_DB = 1.0  # "mel_distance clearly up": at least this much above the clean row


@dataclass(frozen=True)
class Row:
    defect: str  # "none" or NAME[=VALUE] (agent/defects.py)
    case: str  # the named case it runs on
    must: str  # what the issue asks, in words
    gates: tuple[str, ...] = ()  # gates that must fire (FAIL / WARN / INFRA)
    statuses: tuple[str, ...] = ()  # one of these final capture_statuses
    exit_code: int | None = None
    check: str = ""  # "clean" | "delay" | "same_as_clean" | "mel_up"
    drops: str | None = None  # which dropped-message counter must be > 0
    label: str = ""  # the row's name when the defect is in the case, not the agent

    @property
    def name(self) -> str:
        return self.label or self.defect.split("=")[0]


MATRIX: tuple[Row, ...] = (
    Row(
        "none",
        "endpoint_short_hello",
        "PASS; every gate PASS or SKIP",
        exit_code=EXIT_PASS,
        check="clean",
    ),
    Row(
        "delay_ms=200",
        "endpoint_short_hello",
        "+200 ± 20 ms vs clean in the stage it sits in (output_wait: the reply's first frame "
        "held in the agent's output; ±10 ms and the 10 ms frame grid), the answer later at "
        "the ear; KPI-regression FAIL vs a clean baseline",
        gates=("primary_kpi_regression",),
        check="delay",
    ),
    Row(
        "delay_ms=400",
        "endpoint_short_hello",
        "eot_to_first_audio P95 and tts_first_to_publish FAIL (~900 ms to the answer)",
        gates=("eot_to_first_audio_p95", "tts_first_to_publish_p95"),
    ),
    Row("early_reply", "endpoint_mid_pause", "false_endpoint FAIL", gates=(M.FALSE_ENDPOINT.name,)),
    Row(
        "talk_over",
        "endpoint_short_hello",
        "false_endpoint and overlap FAIL",
        gates=(M.FALSE_ENDPOINT.name, "overlap"),
    ),
    Row("no_reply", "endpoint_short_hello", "unanswered FAIL", gates=(M.UNANSWERED.name,)),
    Row(
        "gap_ms=400",
        "endpoint_long_sentence",
        "max_gap and audible_dropout FAIL; added_gap reported",
        gates=("max_gap", M.AUDIBLE_DROPOUT.name),
    ),
    Row("clip_db=12", "endpoint_short_hello", "clipping FAIL", gates=(M.CLIPPING_RATIO.name,)),
    Row(
        "lowpass_hz=3500",
        "endpoint_short_hello",
        "hf_ratio_drop WARN, mel_distance clearly up",
        gates=("fp_distortion",),
        check="mel_up",
    ),
    Row("speed=1.05", "endpoint_short_hello", "drift WARN", gates=("fp_speed_drift",)),
    Row(
        "llm_ttft_ms=150",
        "endpoint_short_hello",
        "fast_lane_ttft FAIL",
        gates=("fast_lane_ttft_p95",),
    ),
    Row(
        "pace_jitter_ms=50",
        "pace_jitter_raw",
        "inter_arrival FAIL (raw path: over a network the jitter buffer re-paces frames)",
        gates=("inter_arrival_p95",),
    ),
    Row(
        "stop_on_noise",
        "noise_background",
        "false_interruption FAIL",
        gates=(M.FALSE_INTERRUPTION.name,),
    ),
    Row(
        "no_reply_end",
        "endpoint_short_hello",
        "REPLY_INCOMPLETE",
        statuses=(REPLY_INCOMPLETE,),
        gates=("reply_complete",),
    ),
    Row(
        "stop_mid_reply",
        "endpoint_long_sentence",
        "REPLY_INCOMPLETE",
        statuses=(REPLY_INCOMPLETE,),
        gates=("reply_complete",),
    ),
    Row(
        "crash_mid_reply",
        "endpoint_long_sentence",
        "REPLY_INCOMPLETE or a named crash status, and no hang",
        statuses=(REPLY_INCOMPLETE,),
    ),
    Row(
        "silent",
        "endpoint_short_hello",
        "POST_SILENT after its retry; audio_valid_rate FAIL, exit 1",
        statuses=(POST_SILENT,),
        gates=("audio_valid_rate",),
        exit_code=EXIT_FAIL,
    ),
    Row(
        "no_agent_ready",
        "endpoint_short_hello",
        "BARRIER_TIMEOUT after its retry; INFRA, exit 2",
        statuses=(BARRIER_TIMEOUT,),
        gates=("infrastructure",),
        exit_code=EXIT_INFRA,
    ),
    Row(
        "stale_trace",
        "endpoint_short_hello",
        "dropped and counted; figures as clean",
        check="same_as_clean",
        drops="stale",
    ),
    Row(
        "bad_json",
        "endpoint_short_hello",
        "dropped and counted; figures as clean",
        check="same_as_clean",
        drops="bad",
    ),
    Row(
        "dup_msg_id",
        "endpoint_short_hello",
        "dropped and counted; figures as clean",
        check="same_as_clean",
        drops="duplicate",
    ),
    Row("ignore_barge_in", "interrupt_once", "barge_in_stop FAIL", gates=("barge_in_stop",)),
    Row(
        "none",
        "network_lossy",
        "a clean agent over lossy_20 (embedded): conceal_rate and audible_dropout FAIL",
        gates=("conceal_rate", M.AUDIBLE_DROPOUT.name),
        label="lossy_network",
    ),
    Row(
        "none",
        "boom_trigger",
        "clicks in the caller's input (a P1 case): fp_boom WARN, never FAIL",
        gates=("fp_boom",),
        exit_code=EXIT_PASS,
        label="input_clicks",
    ),
)
SHORT = ("none", "gap_ms", "no_reply_end", "talk_over")
SELFTEST_ONLY_CASES = (
    "network_lossy",
    "pace_jitter_raw",
)  # run by a row, in no suite  # the subset `make test` runs
DROP_METRICS = {"stale": M.DROPPED_STALE, "duplicate": M.DROPPED_DUPLICATE, "bad": M.DROPPED_BAD}
SAME_AS_CLEAN = (M.MAX_GAP, M.AUDIBLE_DROPOUT, M.CLIPPING_RATIO, M.MEL_DISTANCE, M.HF_RATIO_DROP)


@dataclass(frozen=True)
class RowOutcome:
    """What one row's run gave: its attempts, its gates and its exit code."""

    rows: Sequence[AttemptRow]
    gates: Sequence[GateResult]
    exit_code: int
    wall_s: float = 0.0


@dataclass
class Judgement:
    row: Row
    ok: bool
    got: str
    also_fired: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def mark(self) -> str:
        return "✓" if self.ok else "✗"


def fired(gates: Sequence[GateResult]) -> dict[str, GateResult]:
    """Gates that fired, by name (the first scope that fired)."""
    out: dict[str, GateResult] = {}
    for g in gates:
        if g.verdict in FIRED and g.name not in out:
            out[g.name] = g
    return out


def _final(outcome: RowOutcome) -> AttemptRow | None:
    finals = final_attempts(outcome.rows)
    return finals[0] if finals else None


def _latency(row: AttemptRow | None) -> float | None:
    v = row.get(M.EOT_TO_FIRST_AUDIO) if row is not None else None
    return None if v is None else float(v)


def judge_row(row: Row, outcome: RowOutcome, clean: RowOutcome | None) -> Judgement:
    """Does the outcome show what the row must produce? (see module doc)"""
    final = _final(outcome)
    status = final.capture_status if final is not None else "none"
    on = fired(outcome.gates)
    problems = [f"{name} did not fire" for name in row.gates if name not in on]
    if row.statuses and status not in row.statuses:
        problems.append(f"status {status}, expected {' or '.join(row.statuses)}")
    if row.exit_code is not None and outcome.exit_code != row.exit_code:
        problems.append(f"exit {outcome.exit_code}, expected {row.exit_code}")
    got = [f"{status}", f"exit {outcome.exit_code}"] + [f"{n} {g.verdict}" for n, g in on.items()]
    if row.check == "clean" and on:
        problems.append("the clean agent fired " + ", ".join(on))
    if row.check in ("delay", "same_as_clean", "mel_up"):
        problems += _versus_clean(row, final, clean, got)
    if row.drops is not None:
        n = final.get(DROP_METRICS[row.drops]) if final is not None else None
        got.append(f"dropped {row.drops}={n}")
        if not n:
            problems.append(f"no {row.drops} message was dropped and counted")
    if row.check == "same_as_clean" and on:
        problems.append("gates fired: " + ", ".join(on))
    expected = set(row.gates)
    also = [f"{n} {g.verdict} ({g.detail})" for n, g in on.items() if n not in expected]
    return Judgement(row, not problems, "; ".join(got), also, problems)


def _versus_clean(
    row: Row, final: AttemptRow | None, clean: RowOutcome | None, got: list[str]
) -> list[str]:
    clean_final = _final(clean) if clean is not None else None
    if final is None or clean_final is None:
        return ["no clean row to compare with"]
    problems = []
    if row.check == "delay":
        a, b = _latency(final), _latency(clean_final)
        if a is None or b is None:
            return ["no latency to compare"]
        got.append(f"eot_to_first_audio {a - b:+.1f} ms vs clean")
        # the ear-measured delta also carries the run-to-run spread of the stages before
        # the reply's audio is ready (the VAD's end on the same audio moved 359-482 ms over
        # three runs, livekit-agents' forwarding by up to ~70 ms). The stage the delay sits
        # in, the reply's first frame waiting in the agent's audio output, moves by it
        # alone; output -> ear (that wait plus agent -> probe) is shown beside it
        wait_a, wait_b = final.get(M.OUTPUT_WAIT), clean_final.get(M.OUTPUT_WAIT)
        if wait_a is None or wait_b is None:
            problems.append("no output_wait_ms to compare (no agent trace?)")
        else:
            delta = float(wait_a) - float(wait_b)
            got.append(f"output_wait {delta:+.1f} ms vs clean")
            if abs(delta - 200.0) > DELAY_TOLERANCE_MS:
                problems.append(
                    f"output_wait moved {delta:+.1f} ms, expected +200 ± {DELAY_TOLERANCE_MS:g}"
                )
        ear_a, ear_b = _output_to_ear_ms(final), _output_to_ear_ms(clean_final)
        if ear_a is not None and ear_b is not None:
            got.append(f"output→ear {ear_a - ear_b:+.1f} ms vs clean")
        if a - b <= 0:
            problems.append("the answer did not come later than the clean row's")
    elif row.check == "mel_up":
        a_mel, b_mel = final.get(M.MEL_DISTANCE), clean_final.get(M.MEL_DISTANCE)
        got.append(f"mel_distance {a_mel} vs clean {b_mel} dB")
        if a_mel is None or b_mel is None or a_mel < b_mel + MEL_UP_DB:
            problems.append("mel_distance not clearly up")
    else:
        for m in SAME_AS_CLEAN:
            a_v, b_v = final.get(m), clean_final.get(m)
            if (a_v is None) != (b_v is None) or (
                a_v is not None and b_v is not None and abs(a_v - b_v) > m.tolerance
            ):
                problems.append(f"{m.name} {a_v} vs clean {b_v} (tolerance {m.tolerance:g})")
    return problems


def _output_to_ear_ms(row: AttemptRow) -> float | None:
    """The reply's first frame reaching the agent's audio output -> its arrival at the
    probe: the stage a delay in the output sits in."""
    wait, hop = row.get(M.OUTPUT_WAIT), row.get(M.AGENT_TO_PROBE)
    if wait is None or hop is None:
        return None
    return float(wait) + float(hop)


def table(judgements: Sequence[Judgement]) -> str:
    """defect | case | expected | got | ✓/✗, as a markdown table."""
    lines = ["| defect | case | expected | got | |", "|---|---|---|---|---|"]
    for j in judgements:
        got = j.got + (f"; also: {', '.join(j.also_fired)}" if j.also_fired else "")
        if j.problems:
            got += " — " + "; ".join(j.problems)
        defect = f"{j.row.label} (in the case)" if j.row.label else j.row.defect
        lines.append(f"| {defect} | {j.row.case} | {j.row.must} | {got} | {j.mark} |")
    return "\n".join(lines)


def rows_named(names: Sequence[str] | None) -> tuple[Row, ...]:
    """The rows whose defect name is in `names` (all without names); the clean row first."""
    wanted = set(names or ())
    picked = tuple(r for r in MATRIX if r.name in wanted or (not r.label and r.defect in wanted))
    known = {r.name for r in MATRIX} | {r.defect for r in MATRIX if not r.label}
    if unknown := sorted(wanted - known):
        raise InputError(
            f"--rows: no self-test row named {', '.join(unknown)} "
            f"(choose from {', '.join(dict.fromkeys(r.name for r in MATRIX))})"
        )
    rows = picked if wanted else MATRIX
    if not any(r.check == "clean" for r in rows) and any(r.check for r in rows):
        rows = (MATRIX[0], *rows)
    return rows
