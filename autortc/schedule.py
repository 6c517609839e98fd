"""How a run's attempts are scheduled: every case (and repeat) at most `jobs` at once,
started in order, each attempt's retry in the same slot; progress lines in case order
(and a live display on a terminal, progress.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

from autortc.attempt import AttemptContext, AttemptRecord, run_attempt
from autortc.case_schema import Case
from autortc.errors import InfraError
from autortc.kpi import PRIMARY_KPI_METRIC
from autortc.metrics.rows import attempt_tag
from autortc.progress import LiveProgress, PlainProgress, Progress

if TYPE_CHECKING:
    from autortc.orchestrator import RunOptions, RunProgress


def in_case_order(records: list[AttemptRecord], cases: list[Case]) -> list[AttemptRecord]:
    """Records by the cases' order, then repeat and attempt (with --jobs they finish in
    any order)."""
    index = {c.id: i for i, c in enumerate(cases)}
    return sorted(
        records, key=lambda r: (index.get(r.case_id, len(index)), r.repeat or 0, r.attempt)
    )


class OrderedEcho:
    """Progress lines in case order: a case's lines are printed once every earlier
    case has printed its own (with --jobs, later cases may finish first)."""

    def __init__(self, echo: Callable[[str], object]) -> None:
        self._echo = echo
        self._next = 1
        self._held: dict[int, list[str]] = {}

    def done(self, i: int, lines: list[str]) -> None:
        self._held[i] = lines
        while self._next in self._held:
            for line in self._held.pop(self._next):
                self._echo(line)
            self._next += 1


def work_units(cases: list[Case], repeat: int) -> list[tuple[Case, int | None]]:
    """(case, repeat) in suite order, which lines and reports follow (and, with one job,
    the start order): every case once, then again; repeat None when run once."""
    if repeat <= 1:
        return [(case, None) for case in cases]
    return [(case, r) for r in range(1, repeat + 1) for case in cases]


# seconds of espeak speech per character at 175 wpm, by kind (measured on the fast
# suite's case audio and the reference agent's replies): a digit is read as a word, a
# CJK character as a syllable or two
SPEECH_S_PER_CHAR = 0.055
SPEECH_S_PER_DIGIT = 0.25
SPEECH_S_PER_CJK = 0.4
TURN_PAD_S = 0.8  # the silence case_audio pads each turn with
REPLY_WAIT_S = 0.6  # about one end-of-turn -> first-audio latency


def speech_s(text: str) -> float:
    """About how long espeak takes to say `text` at its normal rate."""
    s = 0.0
    for ch in text:
        if ch.isdigit():
            s += SPEECH_S_PER_DIGIT
        elif "\u3400" <= ch <= "\u9fff":
            s += SPEECH_S_PER_CJK
        else:
            s += SPEECH_S_PER_CHAR
    return s


def expected_s(case: Case) -> float:
    """A rough length of the case's conversation: what the caller says and what the agent
    answers, read at speaking rate, each reply cut where the next turn barges in (only
    to order the starts, longest first)."""
    total = 0.0
    for k, turn in enumerate(case.turns):
        total += speech_s(turn.say) / turn.rate / (turn.speed or 1.0) + TURN_PAD_S
        total += (turn.pause_ms or 0) / 1000 + REPLY_WAIT_S
        reply_s = speech_s(case.agent.reply_for_turn(k))
        nxt = case.turns[k + 1] if k + 1 < len(case.turns) else None
        if nxt is not None and nxt.barge_in is not None:
            reply_s = min(reply_s, nxt.barge_in.after_agent_ms / 1000)
        total += reply_s
    return total


def start_order(units: list[tuple[Case, int | None]], jobs: int) -> list[int]:
    """Which unit starts when: in order with one job; with several, longest first (the
    longest-processing-time rule: a long case started last would end the run alone)."""
    idx = list(range(len(units)))
    if jobs <= 1:
        return idx
    return sorted(idx, key=lambda i: -expected_s(units[i][0]))


SUITE_MARGIN_S = 60.0  # the stack's own waits (analysis, room create/delete) on top


def suite_deadline_s(units: list[tuple[Case, int | None]], opts: RunOptions) -> float:
    """The longest a run of `units` may take: every attempt of every case at its own
    timeout (a retry included), spread over the jobs, plus room waits and a margin."""
    attempts_s = sum(case.timeout_s for case, _ in units) * opts.max_attempts
    waits_s = sum(max(opts.room_wait_s, case.room_wait_s) for case, _ in units)
    return attempts_s / max(1, opts.jobs) + waits_s + SUITE_MARGIN_S


async def run_all(
    opts: RunOptions, ctx: AttemptContext, cases: list[Case], progress: RunProgress
) -> None:
    """Every case (and repeat), at most `opts.jobs` at once (a room wait, the run's or
    the case's, before each start after the first), started in suite order with one
    job and longest first with several; an attempt's retry follows it in the same slot;
    progress lines come out in suite order whatever the start order. Past `suite_deadline_s` the run stops (InfraError:
    the partial report names what was under way); no attempt can hang it."""
    slots = asyncio.Semaphore(max(1, opts.jobs))
    units = work_units(cases, opts.repeat)
    display: Progress = PlainProgress()
    echo_fn = opts.echo
    if opts.live:
        live = LiveProgress(len(units))
        display, echo_fn = live, live.echo
    echo = OrderedEcho(echo_fn)

    async def one_unit(i: int, case: Case, repeat: int | None) -> None:
        lines: list[str] = []
        try:
            for attempt in range(1, opts.max_attempts + 1):
                key = f"{case.id} {attempt_tag(attempt, repeat)}"
                progress.in_flight[key] = progress.run_dir / case.id / attempt_tag(attempt, repeat)
                display.started(key)
                # an attempt stopped by a signal or an error stays listed: the partial
                # report names what was under way and where its recordings are
                rec = await run_attempt(ctx, case, attempt, repeat)
                progress.in_flight.pop(key, None)
                display.finished(key, rec.row.get(PRIMARY_KPI_METRIC) if not rec.retry else None)
                progress.records.append(rec)
                lines.append(_progress_line(i, len(units), rec))
                if not rec.retry:
                    break
        finally:
            slots.release()
            display.unit_done()
            echo.done(i, lines)

    deadline_s = suite_deadline_s(units, opts)
    seen: dict[str, str] = {}  # what was under way when the deadline passed

    def note_where() -> None:
        seen["where"] = progress.current or "no attempt"

    early = asyncio.get_running_loop().call_later(max(0.0, deadline_s - 0.001), note_where)
    try:
        async with asyncio.timeout(deadline_s), asyncio.TaskGroup() as tg:
            for n, k in enumerate(start_order(units, opts.jobs)):
                i, (case, repeat) = k + 1, units[k]
                await slots.acquire()
                wait_s = max(opts.room_wait_s, case.room_wait_s)
                if n > 0 and wait_s > 0:
                    await asyncio.sleep(wait_s)
                progress.started = True
                tg.create_task(one_unit(i, case, repeat), name=f"case.{case.id}.{repeat}")
    except TimeoutError:
        raise InfraError(
            f"the suite ran past its deadline of {deadline_s:.0f} s "
            f"(case timeouts x {opts.max_attempts} attempts / {opts.jobs} jobs + margin) "
            f"during {seen.get('where', 'no attempt')}"
        ) from None
    finally:
        early.cancel()
        display.close()


def _progress_line(i: int, n: int, rec: AttemptRecord) -> str:
    lat = rec.row.get(PRIMARY_KPI_METRIC)
    lat_s = f"{lat:.0f} ms" if lat is not None else "n/a"
    name = PRIMARY_KPI_METRIC.name.removesuffix("_ms")
    return (
        f"[{i}/{n}] {rec.case_id} {rec.row.tag}: {rec.row.capture_status} "
        f"{name}={lat_s} ({rec.wall_s:.1f} s)"
    )
