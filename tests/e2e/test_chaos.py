"""`autortc chaos --rows short` on the embedded transport: every fault of the CI subset
is classified as the matrix says, a report is written, no process is left, and each
affected attempt ends within 5 s of its fault (autortc/chaos_matrix.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from autortc.chaos_matrix import SHORT

pytestmark = [pytest.mark.e2e, pytest.mark.realtime]

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(300)
def test_the_chaos_subset_matches_every_row(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "autortc.cli", "chaos", "--rows", "short", "--out", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=280,
    )
    body = json.loads((tmp_path / "chaos.json").read_text())
    rows = {r["fault"]: r for r in body["rows"]}
    assert list(rows) == list(SHORT)
    for name, row in rows.items():
        assert row["match"], (name, row["problems"], proc.stdout[-3000:])
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
