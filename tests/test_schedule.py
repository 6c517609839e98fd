"""The schedule's own deadline (schedule.py): an attempt that never ends cannot hang a
suite; past the sum of its case timeouts (x attempts) over the jobs plus a margin, the
run stops with an InfraError that names what was under way. Virtual time."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

import autortc.schedule as schedule
from autortc.case_schema import Case
from autortc.errors import InfraError
from autortc.orchestrator import RunOptions, RunProgress


def _case(case_id: str, timeout_s: float) -> Case:
    return Case.model_validate(
        {
            "id": case_id,
            "priority": "P0",
            "timeout_s": timeout_s,
            "turns": [{"say": "hello"}],
            "agent": {"reply_text": "hi"},
        }
    )


async def test_a_hung_attempt_stops_the_suite_at_its_deadline(
    virtual_clock, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    async def never_ends(ctx, case, attempt, repeat=None):  # type: ignore[no-untyped-def]
        await asyncio.Event().wait()

    monkeypatch.setattr(schedule, "run_attempt", never_ends)
    cases = [_case("hang", 10.0), _case("other", 20.0)]
    opts = RunOptions(jobs=2, echo=lambda _l: None)
    progress = RunProgress(run_dir=tmp_path)
    expected = (10.0 + 20.0) * 2 / 2 + schedule.SUITE_MARGIN_S
    assert schedule.suite_deadline_s(schedule.work_units(cases, 1), opts) == expected
    t0 = virtual_clock.now_s
    with pytest.raises(InfraError, match=r"deadline of 90 s .* during hang a1, other a1"):
        await schedule.run_all(opts, None, cases, progress)  # type: ignore[arg-type]
    assert virtual_clock.now_s - t0 == pytest.approx(expected, abs=0.01)
    assert sorted(progress.in_flight) == ["hang a1", "other a1"]  # named in the report


def test_several_jobs_start_the_longest_cases_first_and_one_job_keeps_suite_order() -> None:
    short = _case("short", 60.0)
    long = Case.model_validate(
        {
            "id": "long",
            "priority": "P0",
            "turns": [{"say": "tell me a story"}],
            "agent": {"reply_text": "once upon a time " * 40},
        }
    )
    mid = Case.model_validate(
        {
            "id": "mid",
            "priority": "P0",
            "turns": [{"say": "what is the weather like today in the city"}],
            "agent": {"reply_text": "it is sunny and warm"},
        }
    )
    units = schedule.work_units([short, long, mid], 1)
    assert schedule.start_order(units, 1) == [0, 1, 2]
    assert schedule.start_order(units, 4) == [1, 2, 0]
    assert schedule.expected_s(long) > schedule.expected_s(mid) > schedule.expected_s(short)
