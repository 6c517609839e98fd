"""A CI job killed with SIGTERM must not leave an agent worker, a room server or a
bot running: `autortc run` cancels itself and every `finally` cleans up."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

pytestmark = pytest.mark.e2e


def _start_run(tmp_path: Path) -> tuple[subprocess.Popen[str], list[psutil.Process]]:
    """`autortc run --suite mini` on the local transport, once its bots are running."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIVEKIT_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "autortc.cli", "run", "--suite", "mini", "--output", str(tmp_path)],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    parent = psutil.Process(proc.pid)
    children: list[psutil.Process] = []
    deadline = time.monotonic() + 60
    # wait until the run is under way: room server, agent worker and an attempt's bot
    # running (the harness names those in <attempt>/<bot>.pid; warm spares start earlier)
    while time.monotonic() < deadline and proc.poll() is None:
        children = parent.children(recursive=True)
        if list(tmp_path.glob("*/*/a1/*_bot.pid")):
            children = parent.children(recursive=True)
            break
        time.sleep(0.2)
    if proc.poll() is not None or len(children) < 3:
        proc.kill()
        pytest.fail(f"the run did not get under way: {proc.communicate()}")
    return proc, children


def _cmdline(p: psutil.Process) -> list[str]:
    try:
        return p.cmdline()
    except psutil.Error:
        return []


def test_sigterm_stops_the_run_and_every_process_it_started(tmp_path: Path) -> None:
    proc, children = _start_run(tmp_path)
    try:
        # the probe is in the room and recording (its message log exists)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not list(tmp_path.glob("*/*/a1/events.jsonl")):
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 2, err
    assert "autortc: interrupted" in err
    assert "Traceback" not in err
    _, alive = psutil.wait_procs(children, timeout=10)
    assert alive == [], [_cmdline(p) for p in _alive(alive)]
    # a report is still written, marked incomplete, naming the attempt under way
    (run_dir,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["verdict"] == "INCOMPLETE"
    assert summary["exit_code"] == 2
    assert summary["incomplete"].startswith("interrupted (SIGINT or SIGTERM) during ")
    assert "**INCOMPLETE**" in (run_dir / "report.md").read_text()
    assert (run_dir / "junit.xml").exists()
    assert "INCOMPLETE: interrupted" in out
    # the bots of every attempt under way (two at once by default on 2 cores) were
    # stopped with SIGTERM and wrote what they had; the report names each of them
    under_way = [a for a in run_dir.glob("*/a1") if not (a / "metrics.json").exists()]
    assert under_way
    for att in under_way:
        assert f"{att.parent.name} a1" in summary["incomplete"]
    # a probe that was recording (its message log exists; one still starting has
    # nothing to keep) ends INTERRUPTED with its recording written
    recording = [a for a in under_way if (a / "events.jsonl").exists()]
    assert recording
    for att in recording:
        probe = json.loads((att / "probe_result.json").read_text())
        assert probe["status"] == "INTERRUPTED"
        assert (att / "post_rtc_full.wav").exists()


def test_sigkill_of_the_harness_still_ends_every_process_it_started(tmp_path: Path) -> None:
    """No `finally` runs on SIGKILL: the kernel's parent-death signal ends the children."""
    proc, children = _start_run(tmp_path)
    proc.kill()
    proc.communicate(timeout=30)
    _, alive = psutil.wait_procs(children, timeout=20)
    for p in _alive(alive):
        p.kill()  # leave nothing behind, then fail
    assert _alive(alive) == [], [_cmdline(p) for p in alive]


def _alive(procs: list[psutil.Process]) -> list[psutil.Process]:
    out = []
    for p in procs:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                out.append(p)
        except psutil.NoSuchProcess:
            pass
    return out


def test_a_killed_agent_worker_stops_the_run_at_once_with_its_partial_report(
    tmp_path: Path,
) -> None:
    proc, children = _start_run(tmp_path)
    try:
        (worker,) = [c for c in children if "agent" in _cmdline(c) and "local" in _cmdline(c)]
        worker.send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
        _, err = proc.communicate(timeout=60)
        ended_s = time.monotonic() - killed_at
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 2, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines[-1].startswith(
        "autortc: error: the agent worker was killed by signal SIGKILL during "
    )
    assert "Traceback" not in err
    # noticed within a poll (0.25 s); then the bots' SIGTERM flush, teardown and report
    assert ended_s < 8.0, ended_s
    (run_dir,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["verdict"] == "INCOMPLETE"
    assert "the agent worker was killed by signal SIGKILL during " in summary["incomplete"]
    _, alive = psutil.wait_procs(children, timeout=10)
    assert alive == [], [_cmdline(p) for p in _alive(alive)]
