"""End to end through real processes on the embedded local transport.

`autortc run` starts the local room server and the reference agent worker as
processes, each case runs a user bot and a probe bot as processes, and the
figures are read back from the run's reports. Two cases: a short turn and a
barge-in.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from autortc.phases import PHASES

from .negatives import negative_latencies
from .starved import late_packets

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("e2e")
    suite = tmp / "suite.yaml"
    suite.write_text("suite: e2e\ncases:\n  - endpoint_short_hello\n  - interrupt_once\n")
    run = _suite_run(tmp, suite, "out")
    if late := _late_on_a_clean_link(run):
        # A packet later than the clean link's 40 ms of playout delay, on a loopback path
        # whose floor is about 1 ms, was held up by this machine's scheduling (a CI run:
        # 2 stretches, packet jitter 9.6 ms, 3 audible dropouts in endpoint_short_hello's
        # reply): the run is made again, once, and judged on the second
        print(f"late packets on a clean link, the suite run again: {late}")
        run = _suite_run(tmp, suite, "out_again")
    return run


def _suite_run(tmp: Path, suite: Path, name: str) -> Path:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "autortc.cli",
            "run",
            "--suite",
            str(suite),
            "--local",
            "--output",
            str(tmp / name),
        ],
        cwd=tmp,
        capture_output=True,
        text=True,
        timeout=240,
    )
    print(proc.stdout, proc.stderr)
    assert proc.returncode in (0, 1), f"exit {proc.returncode}: {proc.stderr[-2000:]}"
    assert "PRIMARY_KPI eot_to_first_audio_p95_ms" in proc.stdout
    assert "VERDICT" in proc.stdout
    assert "wall time" in proc.stdout
    (run,) = list((tmp / name).iterdir())
    return run


def _late_on_a_clean_link(run: Path) -> dict[str, dict[str, int]]:
    """{case: its agent track's late and stretched packets} where there were any."""
    attempts = sorted(f.parent for f in run.glob("*/a*/probe_result.json"))
    found = {d.parent.name: late_packets(d) for d in attempts}
    return {case: late for case, late in found.items() if late}


def _metrics(run_dir: Path, case_id: str) -> dict:
    attempts = sorted((run_dir / case_id).glob("a*"))
    return json.loads((attempts[-1] / "metrics.json").read_text())


def test_every_case_is_captured_ok_with_its_artifacts(run_dir: Path) -> None:
    for case_id in ("endpoint_short_hello", "interrupt_once"):
        m = _metrics(run_dir, case_id)
        assert m["capture_status"] == "OK", m.get("null_reasons")
        assert m["slice_source"] == "events"
        att = run_dir / case_id / f"a{m['attempt']}"
        for name in (
            "input.wav",
            "pre_rtc.wav",
            "pre_rtc.json",
            "post_rtc_full.wav",
            "post_rtc_reply.wav",
            "post_rtc_user.wav",
            "probe_result.json",
            "user_result.json",
            "agent_trace.json",
            "metrics.json",
            "events.jsonl",
        ):
            assert (att / name).exists(), name


def test_latency_is_plausible_and_explained_by_the_agent_trace(run_dir: Path) -> None:
    m = _metrics(run_dir, "endpoint_short_hello")
    # VAD hangover (350 ms) + VAD window + scripted LLM + espeak + two local hops
    assert 300 < m["eot_to_first_audio_ms"] < 1200
    # the agent's own EoT->publish is a small part of it
    assert 0 <= m["agent_eot_to_first_audio_ms"] < m["eot_to_first_audio_ms"]
    assert m["max_gap_ms"] is not None
    assert m["max_gap_ms"] < 350
    assert m["post_rms"] > 0.01
    if late := _late_on_a_clean_link(run_dir):
        # the run made again was starved too (a CI run: 1 stretch and 1 dropout in each
        # case, both times): what the caller heard had the machine's gaps in it
        pytest.skip(f"packets late on a clean loopback link in both runs: {late}")
    assert m["audible_dropout"] == 0


def test_the_hop_budget_adds_up_to_the_latency_on_the_embedded_transport(run_dir: Path) -> None:
    hops = ("user_to_agent_ms", "endpointing_ms", "agent_processing_ms", "agent_to_probe_ms")
    split = 0
    for case_id in ("endpoint_short_hello", "interrupt_once"):
        for turn in _metrics(run_dir, case_id)["turns"]:
            parts = [turn[h] for h in hops]
            # the user track at the probe: one network hop, the same path as the agent's
            # inbound one on the embedded server (both are subscribers of the user track)
            assert turn["user_to_probe_ms"] is not None
            assert 0 <= turn["user_to_probe_ms"] < 100
            # the first two hops are always known here (the agent records what it heard)
            assert all(p is not None and p >= 0 for p in parts[:2]), (case_id, parts)
            if parts[2] is None:
                # the hand-over of the first audible sample is not known to a frame
                # (frames handed in a burst, or the first within a frame of the
                # decision: once in a CI run, for interrupt_once's second turn): the
                # split is withheld, both hops together, never one of them
                assert parts[3] is None, (case_id, parts)
                assert str(turn.get("hop_note", "")).startswith("split withheld"), turn
                continue
            assert all(p is not None and p >= 0 for p in parts), (case_id, parts)
            assert sum(parts) == pytest.approx(turn["eot_to_first_audio_ms"], abs=2.0)
            split += 1
    assert split >= 1  # 3 of 3 turns in every run on an idle machine


def test_each_attempt_says_where_its_time_went(run_dir: Path) -> None:
    for case_id in ("endpoint_short_hello", "interrupt_once"):
        phases = _metrics(run_dir, case_id)["phases_ms"]
        assert list(phases) == list(PHASES)
        assert all(v is not None and v >= 0 for v in phases.values()), phases
        assert phases["conversation"] > 1000  # the case itself: its utterances and replies
    md = (run_dir / "report.md").read_text()
    assert "## Where the attempts' time went" in md
    assert "| agent_join |" in md


def test_the_codec_travels_with_the_figures(run_dir: Path) -> None:
    # the embedded default: Opus at the reference agent's 64 kbps over a clean link
    want = "agent sent opus max 64 kbps, DTX off, RED off, mono; probe got audio/opus"
    assert _metrics(run_dir, "endpoint_short_hello")["codec"] == want
    md = (run_dir / "report.md").read_text()
    assert f"- {want}: " in md
    assert "Codec (Ring 1 is measured through it)" in (run_dir / "report.html").read_text()


def test_barge_in_cuts_the_reply_and_the_agent_goes_quiet(run_dir: Path) -> None:
    m = _metrics(run_dir, "interrupt_once")
    replies = m["replies"]
    assert replies[0]["interrupted"] is True
    assert replies[1]["interrupted"] is False
    # from the barge-in speech leaving the user bot to the agent's last audible frame
    assert m["barge_in_stop_ms"] is not None
    assert 0 < m["barge_in_stop_ms"] < 1500


def test_reports_open_with_the_kpi(run_dir: Path) -> None:
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["PRIMARY_KPI_NAME"] == "eot_to_first_audio_p95_ms"
    assert summary["PRIMARY_KPI_VALUE"] > 0
    assert summary["verdict"] in ("PASS", "FAIL")
    report = (run_dir / "report.md").read_text().splitlines()
    assert report[2].startswith("- **PRIMARY_KPI**")
    assert (
        (run_dir / "metrics.csv").read_text().startswith("case_id,priority,attempt,capture_status")
    )


def test_turn_taking_is_polite_and_no_latency_is_negative(run_dir: Path) -> None:
    for case_id in ("endpoint_short_hello", "interrupt_once"):
        m = _metrics(run_dir, case_id)
        for turn in m["turns"]:
            assert turn["false_endpoint"] == 0
            assert turn["unanswered"] == 0
            assert turn["eot_to_first_audio_ms"] is not None
            assert turn["eot_to_first_audio_ms"] >= 0
    assert negative_latencies(run_dir) == []  # nowhere: metrics, summary, reports
    barge = _metrics(run_dir, "interrupt_once")["turns"][1]
    assert barge["is_barge_in"] is True
    assert barge["overlap_ms"] <= 300  # the intended overlap up to the agent's stop is excluded


def test_the_agent_log_of_a_clean_run_has_no_error(run_dir: Path) -> None:
    log = (run_dir / "agent.log").read_text()
    assert "agent job ended" in log  # the log is the agent's, and it got to the end
    assert "start-up heap frozen" in log  # no gen-2 GC pause of the start-up heap mid-reply
    for bad in ("ERROR", "Task was destroyed", "GeneratorExit", "Traceback"):
        assert bad not in log, bad
