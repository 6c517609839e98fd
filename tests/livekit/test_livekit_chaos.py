"""Faults on a real livekit-server (issue 11): `autortc chaos --livekit`, and a server
restart mid-case on a private server this test starts.

    livekit-server --dev --bind 127.0.0.1
    LIVEKIT_URL=ws://127.0.0.1:7880 .venv/bin/python -m pytest -m livekit \
        tests/livekit/test_livekit_chaos.py

The chaos rows (autortc/chaos_matrix.py, LIVEKIT_MATRIX): a room deleted mid-case
(DeleteRoom: ROOM_GONE, retried in a fresh room, OK), the agent worker killed
(INCOMPLETE naming it, exit 2), SIGTERM mid-suite (INCOMPLETE: interrupted), a
refused port and a wrong secret (one line, exit 2, nothing started). Each is judged
on exit code, status, report, fault -> attempt end (<= 5 s) and processes left.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from autortc.chaos_matrix import LIVEKIT_MATRIX
from autortc.metrics.status import RETRY_STATUSES

pytestmark = [
    pytest.mark.livekit,
    pytest.mark.skipif(
        not os.environ.get("LIVEKIT_URL"), reason="LIVEKIT_URL not set: needs a real livekit-server"
    ),
]

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(900)
def test_every_livekit_fault_is_classified_as_the_matrix_says(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "autortc.cli", "chaos", "--livekit", "--out", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=880,
    )
    print(proc.stdout[-4000:])
    body = json.loads((tmp_path / "chaos.json").read_text())
    rows = {r["fault"]: r for r in body["rows"]}
    assert list(rows) == [f.name for f in LIVEKIT_MATRIX]
    for name, row in rows.items():
        assert row["match"], (name, row["problems"])
    assert proc.returncode == 0, proc.stderr[-2000:]


def _free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_server(binary: str, config: str, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as fh:
        return subprocess.Popen(
            [binary, "--dev", "--bind", "127.0.0.1", "--config-body", config],
            stdout=fh,
            stderr=subprocess.STDOUT,
        )


def _wait_port(port: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"livekit-server did not listen on {port} within {timeout_s} s")


@pytest.mark.timeout(300)
@pytest.mark.skipif(shutil.which("livekit-server") is None, reason="livekit-server not on PATH")
def test_a_server_restart_mid_case_ends_with_a_report_and_no_process_left(
    tmp_path: Path,
) -> None:
    """SIGKILL a private livekit-server while the user bot speaks, start it again 1 s
    later on the same ports. The run must end on its own with a report and leave no
    process. Either the attempt is retried in a fresh room on the restarted server
    and passes (its first status one of the retried ones), or the run stops with the
    partial report (exit 2, INCOMPLETE with the reason)."""
    binary = str(shutil.which("livekit-server"))
    port, tcp, udp = _free_port(), _free_port(), _free_port(socket.SOCK_DGRAM)
    config = f"port: {port}\nrtc:\n  tcp_port: {tcp}\n  udp_port: {udp}\n  use_external_ip: false\n"
    server = _start_server(binary, config, tmp_path / "server.log")
    _wait_port(port, 20)
    suite = tmp_path / "one.yaml"
    suite.write_text("suite: restart\ncases: [endpoint_long_sentence]\n")
    out = tmp_path / "out"
    env = {
        **os.environ,
        "LIVEKIT_URL": f"ws://127.0.0.1:{port}",
        "LIVEKIT_API_KEY": "devkey",
        "LIVEKIT_API_SECRET": "secret",
    }
    run = subprocess.Popen(
        [sys.executable, "-m", "autortc.cli", "run", "--suite", str(suite), "--output", str(out)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    children: dict[int, psutil.Process] = {}
    try:
        deadline = time.monotonic() + 90
        while not list(out.glob("*/*/a1/events.jsonl")) and time.monotonic() < deadline:
            for c in psutil.Process(run.pid).children(recursive=True):
                children.setdefault(c.pid, c)
            time.sleep(0.05)
        assert list(out.glob("*/*/a1/events.jsonl")), "the case never got under way"
        time.sleep(1.0)
        for c in psutil.Process(run.pid).children(recursive=True):
            children.setdefault(c.pid, c)
        server.send_signal(signal.SIGKILL)
        server.wait()
        time.sleep(1.0)
        server = _start_server(binary, config, tmp_path / "server.log")
        _wait_port(port, 20)
        _, err = run.communicate(timeout=200)
    finally:
        if run.poll() is None:
            run.kill()
            run.communicate()
        server.terminate()
        server.wait(timeout=20)
    _, alive = psutil.wait_procs(list(children.values()), timeout=5)
    assert not [p for p in alive if p.is_running()], "processes left after the run"
    (run_dir,) = [p for p in out.iterdir() if p.is_dir()]
    assert (run_dir / "report.md").exists()
    assert (run_dir / "summary.json").exists()
    summary = json.loads((run_dir / "summary.json").read_text())
    statuses = [
        json.loads(m.read_text())["capture_status"]
        for m in sorted(run_dir.glob("*/a*/metrics.json"))
    ]
    if run.returncode == 2:
        assert summary.get("incomplete"), err[-2000:]
    else:
        assert run.returncode in (0, 1), err[-2000:]
        assert len(statuses) >= 2, statuses
        assert statuses[0] in RETRY_STATUSES, statuses
