"""`autortc selftest`, the CI subset, through real processes: the clean reference agent
fires no gate, and each injected defect fires what it must (a defect row that did not
fire, or a clean row that did, fails this test)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from autortc.selftest_matrix import SHORT

from .negatives import negative_latencies

pytestmark = pytest.mark.e2e


def test_the_selftest_subset_matches_every_row(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "autortc.cli",
            "selftest",
            "--rows",
            "short",
            "--local",
            "--output",
            str(tmp_path / "out"),
            "--out",
            str(tmp_path / "st"),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    print(proc.stdout[-4000:], proc.stderr[-2000:])
    body = json.loads((tmp_path / "st" / "selftest.json").read_text())
    rows = {r["defect"].split("=")[0]: r for r in body["rows"]}
    assert set(rows) == set(SHORT)
    for name, row in rows.items():
        assert row["match"], (name, row["got"], row["problems"])
    assert body["all_match"] is True
    assert proc.returncode == 0
    assert "| none |" in proc.stdout  # the table is printed
    # talk_over decides the turn before the caller finished: still no latency below 0
    (run_dir,) = (tmp_path / "out").iterdir()
    assert negative_latencies(run_dir) == []
