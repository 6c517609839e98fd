"""A run that stopped before its last case still gets its report, marked INCOMPLETE."""

from __future__ import annotations

import asyncio
from pathlib import Path

from autortc.errors import TransportError
from autortc.gates import GatesConfig
from autortc.metrics.rows import AttemptRow
from autortc.report.markdown import render_report
from autortc.report.outcome import INCOMPLETE, RunInfo, summarize
from autortc.suite import incomplete_reason


def _summary(incomplete: str | None, rows: list[AttemptRow]):
    info = RunInfo(run_id="r", suite="fast", transport="local", incomplete=incomplete)
    return summarize(
        rows, config=GatesConfig(), baseline=None, baseline_version=None, run_info=info
    )


def test_an_incomplete_run_is_never_a_pass_and_says_why() -> None:
    rows = [AttemptRow.from_dict({"case_id": "a", "capture_status": "OK", "audio_valid": True})]
    done = _summary(None, rows)
    assert done.summary.verdict != INCOMPLETE
    stopped = _summary("interrupted (SIGINT or SIGTERM) during b a1 (/x/b/a1)", rows)
    assert (stopped.summary.verdict, stopped.summary.exit_code) == (INCOMPLETE, 2)
    md = render_report(stopped.summary, stopped.rows)
    assert "**INCOMPLETE**: interrupted (SIGINT or SIGTERM) during b a1 (/x/b/a1)." in md
    assert "covers the 1 attempts that finished" in md


def test_the_reason_names_what_stopped_the_run_and_where() -> None:
    assert incomplete_reason(asyncio.CancelledError(), "b a1", Path("/x/b/a1")) == (
        "interrupted (SIGINT or SIGTERM) during b a1; what its bots recorded is in /x/b/a1"
    )
    err = TransportError("create_room failed: no agent worker registered as 'autortc-ref'")
    assert incomplete_reason(err, None) == (
        "stopped by an infrastructure error: create_room failed: no agent worker registered "
        "as 'autortc-ref' between attempts"
    )
    death = TransportError("the agent worker was killed by signal SIGKILL during c a2")
    assert incomplete_reason(death, "c a2", Path("/y")) == (
        "stopped by an infrastructure error: the agent worker was killed by signal SIGKILL "
        "during c a2; what its bots recorded is in /y"
    )
    assert incomplete_reason(RuntimeError("boom\nmore"), "c a2") == (
        "stopped by an internal error: boom during c a2"
    )
