"""`autortc load --levels 1,2` on the embedded transport: both levels measured, with
CPU and a capacity estimate, written as load.json / load.md / load.html."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.realtime]

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(240)
def test_a_load_ramp_at_1_and_2_rooms(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            *(sys.executable, "-m", "autortc.cli", "load", "--local", "--levels", "1,2"),
            *("--output", str(tmp_path / "runs"), "--out", str(tmp_path / "load")),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=220,
    )
    print(proc.stdout, proc.stderr[-2000:])
    assert proc.returncode == 0
    body = json.loads((tmp_path / "load" / "load.json").read_text())
    levels = body["levels"]
    assert [lv["rooms"] for lv in levels] == [1, 2]
    assert [len(lv["latencies_ms"]) for lv in levels] == [1, 2]
    for lv in levels:
        assert lv["errors"] == 0
        assert 0 < lv["p50_ms"] <= lv["p95_ms"] < 5000
        assert lv["agent_cpu_s"] > 0
        assert lv["harness_cpu_s"] > 0
        assert 0 < lv["rtf"] < 4  # CPU seconds per second of call, on 2 cores
    cap = body["capacity"]
    assert cap["target_concurrency"] == 100
    if cap["required_workers"] is not None:
        assert cap["required_workers"] >= 1
    assert "<svg" in (tmp_path / "load" / "load.html").read_text()
    assert "| 2 |" in (tmp_path / "load" / "load.md").read_text()
