"""`autortc chaos`: the faults, what each must produce, and the judging (pure).

Each row runs one case in a fresh `autortc run` (the embedded transport; with
`--livekit`, the server in LIVEKIT_URL and the `LIVEKIT_MATRIX`), injects
its fault once the conversation is under way (or passes a flag), and is judged on the
run's exit code, the status it reports, whether the report was written, how long the
affected attempt took to end after the fault, and whether any process was left.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

SHORT_CASE = "endpoint_short_hello"
LONG_CASE = "endpoint_long_sentence"
MAX_FAULT_TO_END_S = 5.0


@dataclass(frozen=True)
class Fault:
    name: str
    case: str
    expected: str  # for the table
    inject: str | None  # what the runner does mid-conversation (None: only `args`)
    args: tuple[str, ...] = ()
    exit_code: int = 2
    status: str | None = None  # the final attempt's capture_status; None: not judged
    incomplete: str | None = None  # a phrase the INCOMPLETE reason must contain
    report: bool = True  # report.md is written
    first_status: str | None = None  # the first attempt's status, when it differs
    env: tuple[tuple[str, str], ...] = ()  # environment overrides for the run
    error: str | None = None  # a phrase the run's last stderr line must contain


MATRIX: tuple[Fault, ...] = (
    Fault(
        "agent_crash_mid_reply",
        LONG_CASE,
        "REPLY_INCOMPLETE, exit 1",
        None,
        ("--defect", "crash_mid_reply"),
        exit_code=1,
        status="REPLY_INCOMPLETE",
    ),
    Fault(
        "probe_crash", SHORT_CASE, "BOT_CRASHED (INFRA), exit 2", "kill_probe", status="BOT_CRASHED"
    ),
    Fault(
        "user_bot_crash",
        SHORT_CASE,
        "BOT_CRASHED (INFRA), exit 2",
        "kill_user",
        status="BOT_CRASHED",
    ),
    Fault(
        "room_deleted",
        SHORT_CASE,
        "a1 ROOM_GONE, retried: a2 OK, exit 0",
        "delete_room",
        exit_code=0,
        status="OK",
        first_status="ROOM_GONE",
    ),
    Fault(
        "local_server_killed",
        SHORT_CASE,
        "INCOMPLETE: the room server was killed, exit 2",
        "kill_server",
        incomplete="the room server was killed by signal SIGKILL",
    ),
    Fault(
        "agent_worker_killed",
        SHORT_CASE,
        "INCOMPLETE: the agent worker was killed, exit 2",
        "kill_worker",
        incomplete="the agent worker was killed by signal SIGKILL",
    ),
    Fault(
        "sigint", SHORT_CASE, "INCOMPLETE: interrupted, exit 2", "sigint", incomplete="interrupted"
    ),
    Fault(
        "sigterm",
        SHORT_CASE,
        "INCOMPLETE: interrupted, exit 2",
        "sigterm",
        incomplete="interrupted",
    ),
    Fault(
        "stray_participant",
        SHORT_CASE,
        "OK as without it, wrong-sender drops counted, exit 0",
        None,
        ("--stray",),
        exit_code=0,
        status="OK",
    ),
    Fault(
        "unwritable_output",
        SHORT_CASE,
        "one line naming --output, exit 2, nothing started",
        None,
        ("--output", "/proc/autortc-chaos"),
        report=False,
    ),
)
# On a real LiveKit server (`autortc chaos --livekit`, tests/livekit/test_livekit_chaos.py).
# A refused port and a wrong secret are refused before anything starts: one line, exit 2.
LIVEKIT_MATRIX: tuple[Fault, ...] = (
    *(f for f in MATRIX if f.name in ("room_deleted", "agent_worker_killed", "sigterm")),
    Fault(
        "server_unreachable",
        SHORT_CASE,
        "one line: cannot reach LiveKit, exit 2, nothing started",
        None,
        report=False,
        env=(("LIVEKIT_URL", "ws://127.0.0.1:9"),),
        error="connection refused",
    ),
    Fault(
        "bad_credentials",
        SHORT_CASE,
        "one line: key/secret rejected, exit 2, nothing started",
        None,
        report=False,
        env=(("LIVEKIT_API_SECRET", "not-the-secret-of-this-server-0123456789"),),
        error="rejected",
    ),
)
SHORT: tuple[str, ...] = (
    "probe_crash",
    "room_deleted",
    "sigterm",
    "stray_participant",
    "unwritable_output",
)


@dataclass
class Observed:
    """What one chaos run did."""

    exit_code: int | None
    wall_s: float
    report: bool
    statuses: list[str] = field(default_factory=list)  # every attempt's, in order
    incomplete: str | None = None
    fault_to_end_s: float | None = None  # the fault -> the affected attempt's end
    leftover: list[str] = field(default_factory=list)  # processes still alive after it
    dropped_wrong_sender: int | None = None
    last_stderr: str = ""


def judge(fault: Fault, seen: Observed) -> list[str]:
    """The row's problems (empty: it matches)."""
    problems = []
    if seen.exit_code != fault.exit_code:
        problems.append(f"exit {seen.exit_code}, expected {fault.exit_code}")
    if seen.report != fault.report:
        problems.append("report.md " + ("missing" if fault.report else "written"))
    if fault.status is not None and (not seen.statuses or seen.statuses[-1] != fault.status):
        problems.append(f"final status {seen.statuses[-1:] or 'none'}, expected {fault.status}")
    if fault.first_status is not None and seen.statuses[:1] != [fault.first_status]:
        problems.append(
            f"first status {seen.statuses[:1] or 'none'}, expected {fault.first_status}"
        )
    if fault.incomplete is not None and fault.incomplete not in (seen.incomplete or ""):
        problems.append(f"INCOMPLETE reason {seen.incomplete!r}, expected {fault.incomplete!r}")
    if fault.inject is not None and (
        seen.fault_to_end_s is None or seen.fault_to_end_s > MAX_FAULT_TO_END_S
    ):
        problems.append(f"the attempt ended {seen.fault_to_end_s} s after the fault (max 5)")
    if fault.name == "stray_participant" and not seen.dropped_wrong_sender:
        problems.append("no wrong-sender drop counted: did the stray send anything?")
    if fault.error is not None and fault.error not in seen.last_stderr:
        problems.append(f"the error line does not say {fault.error!r}: {seen.last_stderr!r}")
    if fault.name == "unwritable_output" and "--output" not in seen.last_stderr:
        problems.append(f"the error line does not name --output: {seen.last_stderr!r}")
    if seen.leftover:
        problems.append("processes left: " + ", ".join(seen.leftover))
    return problems


def table(rows: Sequence[tuple[Fault, Observed, list[str]]]) -> str:
    head = [
        "| fault | expected | exit | wall s | status | report | fault→end s | left | |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for fault, seen, problems in rows:
        status = " → ".join(seen.statuses) or (
            f"INCOMPLETE: {seen.incomplete}" if seen.incomplete else "-"
        )
        if seen.incomplete and seen.statuses:
            status += f"; INCOMPLETE: {seen.incomplete}"
        if seen.dropped_wrong_sender:
            status += f"; dropped_wrong_sender {seen.dropped_wrong_sender}"
        end = "-" if seen.fault_to_end_s is None else f"{seen.fault_to_end_s:.2f}"
        mark = "✓" if not problems else "✗ " + "; ".join(problems)
        head.append(
            f"| {fault.name} | {fault.expected} | {seen.exit_code} | {seen.wall_s:.1f} | {status} | "
            f"{'yes' if seen.report else 'no'} | {end} | {len(seen.leftover)} | {mark} |"
        )
    return "\n".join(head)


def rows_named(names: Sequence[str] | None, matrix: Sequence[Fault] = MATRIX) -> tuple[Fault, ...]:
    if not names:
        return tuple(matrix)
    by_name = {f.name: f for f in matrix}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        from autortc.errors import InputError

        raise InputError(f"--rows: unknown fault {unknown[0]!r}; one of {', '.join(by_name)}")
    return tuple(by_name[n] for n in names)
