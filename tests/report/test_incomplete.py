"""A run that stopped before its last case still gets its report, marked INCOMPLETE."""

from __future__ import annotations

import asyncio

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
    assert incomplete_reason(asyncio.CancelledError(), "b a1 (/x)") == (
        "interrupted (SIGINT or SIGTERM) during b a1 (/x)"
    )
    err = TransportError("create_room failed: no agent worker registered as 'autortc-ref'")
    assert incomplete_reason(err, None) == (
        "stopped by an infrastructure error between attempts: create_room failed: no agent "
        "worker registered as 'autortc-ref'"
    )
    assert incomplete_reason(RuntimeError("boom\\nmore"), "c a2 (/y)").startswith(
        "stopped by an internal error during c a2 (/y): boom"
    )
