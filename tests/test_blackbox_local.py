"""Black-box mode end to end on the embedded local transport, through real processes.

The reference agent runs with `--no-autortc-hooks`: it sends no protocol message
and writes no pre_rtc, like an agent that knows nothing of AutoRTC. The bots then
barrier on the agent's first audio frame and the reply is sliced from energy. The
run must still measure the headline latency, explain every null figure, and not
call a healthy black-box run INFRA or FAIL.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import pytest

from autortc.orchestrator import REPO_ROOT, RunOptions
from autortc.suite import run_and_report

pytestmark = pytest.mark.e2e

CASE = "endpoint_short_hello"
TRACE_METRICS = ("agent_eot_to_first_audio_ms", "tts_first_to_publish_ms", "fast_lane_ttft_ms")
PRE_RTC_METRICS = ("added_gap_ms", "audible_dropout", "align_lag_ms")


@pytest.fixture(scope="module")
def blackbox_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, Path, list[str]]:
    tmp = tmp_path_factory.mktemp("blackbox")
    suite = tmp / "suite.yaml"
    shutil.copyfile(REPO_ROOT / "cases" / "defs" / f"{CASE}.yaml", suite)  # a one-case file
    lines: list[str] = []
    opts = RunOptions(
        suite=str(suite),
        output_root=tmp / "out",
        pre_rtc_root=tmp / "pre",
        blackbox=True,
        agent_args=["--no-autortc-hooks"],
        max_attempts=1,
        echo=lines.append,
    )
    code = asyncio.run(run_and_report(opts))
    (run_dir,) = list((tmp / "out").iterdir())
    return code, run_dir, lines


def _metrics(run_dir: Path) -> dict:
    return json.loads((run_dir / CASE / "a1" / "metrics.json").read_text())


def test_blackbox_reply_is_sliced_from_energy_and_latency_is_measured(blackbox_run) -> None:
    _, run_dir, lines = blackbox_run
    m = _metrics(run_dir)
    assert m["slice_source"] == "energy"
    assert m["capture_status"] == "NO_REPLY_EVENTS", m.get("null_reasons")
    assert 200 < m["eot_to_first_audio_ms"] < 2000
    assert m["audio_valid"] is True
    assert any("NO_REPLY_EVENTS" in line for line in lines)


def test_blackbox_trace_and_pre_rtc_figures_are_null_with_a_reason(blackbox_run) -> None:
    _, run_dir, _ = blackbox_run
    m = _metrics(run_dir)
    reasons = m["null_reasons"]
    for key in (*TRACE_METRICS, *PRE_RTC_METRICS):
        assert m[key] is None, key
        assert reasons.get(key), key
    assert "trace" in reasons["agent_eot_to_first_audio_ms"]
    assert "pre_rtc" in reasons["added_gap_ms"]
    assert not (run_dir / CASE / "a1" / "pre_rtc.wav").exists()


def test_blackbox_agent_sent_no_protocol_messages(blackbox_run) -> None:
    _, run_dir, _ = blackbox_run
    trace = json.loads((run_dir / CASE / "a1" / "agent_trace.json").read_text())
    assert trace["points"] == []
    events = (run_dir / CASE / "a1" / "events.jsonl").read_text()
    assert '"reply_start"' not in events
    assert '"agent_ready"' not in events


def test_a_healthy_blackbox_run_is_not_infra_or_fail(blackbox_run) -> None:
    code, run_dir, lines = blackbox_run
    summary = json.loads((run_dir / "summary.json").read_text())
    verdicts = {g["name"]: g["verdict"] for g in summary["gates"]}
    assert verdicts["infrastructure"] == "PASS"
    assert code == 0, [line for line in lines if "FAIL" in line or "INFRA" in line]
    assert summary["PRIMARY_KPI_VALUE"] is not None
