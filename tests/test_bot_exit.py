"""A bot that wrote its results and then died in the SDK's teardown keeps its status and
figures, with a warning; one that died before its results is BOT_CRASHED."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from autortc.bot_exit import classify_bots, describe_exit
from autortc.bot_pool import run_bot_process
from autortc.metrics.rows import AttemptRow

FAKE_BOT = """
import json, os, sys
from pathlib import Path
out = Path(sys.argv[1]).parent
if "{when}" == "after":
    (out / "probe_result.json").write_text(json.dumps({{"status": "OK"}}))
os.abort()  # what the Rust runtime does on a panic in a function that cannot unwind
"""


def _write(d: Path, name: str, body: dict) -> None:
    (d / name).write_text(json.dumps(body))


def test_an_abort_after_the_results_is_a_warning_and_keeps_the_status(tmp_path):
    _write(tmp_path, "probe_result.json", {"status": "OK"})
    _write(tmp_path, "user_result.json", {"status": "OK"})
    out = classify_bots(-6, 0, tmp_path)
    assert out.status is None
    assert out.warnings == (
        "the probe exited abnormally (signal SIGABRT) after writing its results",
    )


def test_a_death_before_the_results_is_bot_crashed(tmp_path):
    _write(tmp_path, "user_result.json", {"status": "OK"})
    assert classify_bots(-6, 0, tmp_path).status == "BOT_CRASHED"
    (tmp_path / "probe_result.json").write_text('{"status": "OK", "agent_frames')  # torn
    assert classify_bots(4, 0, tmp_path).status == "BOT_CRASHED"


def test_timeouts_and_the_bots_own_infra_outcomes_are_kept(tmp_path):
    assert classify_bots(None, 0, tmp_path).status == "TIMEOUT"
    _write(tmp_path, "probe_result.json", {"status": "AGENT_NOT_JOINED"})
    _write(tmp_path, "user_result.json", {"status": "BARRIER_TIMEOUT"})
    assert classify_bots(3, 3, tmp_path).status == "AGENT_NOT_JOINED"
    # the user bot's teardown abort after its BARRIER_TIMEOUT result: still a warning
    out = classify_bots(3, -6, tmp_path)
    assert (out.status, len(out.warnings)) == ("AGENT_NOT_JOINED", 1)


def test_exit_descriptions_name_the_signal():
    assert describe_exit(4) == "exit 4"
    assert describe_exit(-9) == "signal SIGKILL"


@pytest.mark.realtime  # a real process that really aborts
@pytest.mark.parametrize(
    ("when", "status", "warned"), [("after", None, 1), ("before", "BOT_CRASHED", 0)]
)
def test_a_real_process_that_aborts(tmp_path, monkeypatch, when, status, warned):
    pkg = tmp_path / "fakebots"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "aborting_probe.py").write_text(FAKE_BOT.format(when=when))
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    att = tmp_path / "a1"
    att.mkdir()
    _write(att, "user_result.json", {"status": "OK"})
    job = att / "bot_job.json"
    job.write_text("{}")
    rc = asyncio.run(run_bot_process("fakebots.aborting_probe", job, att / "probe.log", 30.0))
    assert rc == -6
    out = classify_bots(rc, 0, att)
    assert out.status == status
    assert len(out.warnings) == warned


def test_the_warning_travels_in_the_row():
    row = AttemptRow.from_dict(
        {"case_id": "c", "capture_status": "OK", "warnings": ["the probe exited abnormally"]}
    )
    assert row.warnings == ("the probe exited abnormally",)
    assert AttemptRow.from_dict(row.to_dict()) == row
    assert (
        AttemptRow.from_dict({**row.to_dict(), "warnings": json.dumps(list(row.warnings))}) == row
    )
    assert "warnings" not in AttemptRow.from_dict({"case_id": "c"}).to_dict()


def test_the_report_lists_the_warning_and_the_verdict_is_unchanged():
    from autortc.gates import GatesConfig
    from autortc.report.markdown import render_report
    from autortc.report.outcome import RunInfo, summarize

    clean = AttemptRow.from_dict({"case_id": "c", "capture_status": "OK", "audio_valid": True})
    warned = AttemptRow.from_dict(
        {**clean.to_dict(), "warnings": ["the probe exited abnormally (signal SIGABRT)"]}
    )
    outcomes = [
        summarize(
            [r],
            config=GatesConfig(),
            baseline=None,
            baseline_version=None,
            run_info=RunInfo(run_id="r", suite="s", transport="local"),
        )
        for r in (clean, warned)
    ]
    assert outcomes[0].exit_code == outcomes[1].exit_code
    md = render_report(outcomes[1].summary, [warned])
    assert "## Warnings" in md
    assert "- c a1: the probe exited abnormally (signal SIGABRT)" in md
    assert "## Warnings" not in render_report(outcomes[0].summary, [clean])
