"""The real entry point: bad input gets one line on stderr and exit 2, never a traceback.
(The full list of bad inputs runs in-process in test_bad_input.py.)"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_the_console_entry_prints_one_line_and_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text("id: x\npriority: P7\nturns: [{say: hi}]\nagent: {reply_text: hi}\n")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "autortc.cli",
            "run",
            "--suite",
            str(path),
            "--local",
            "--output",
            str(tmp_path / "out"),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"autortc: error: {path}: field 'priority': Input should be 'P0' or 'P1'"
    ]
    assert not (tmp_path / "out").exists()  # nothing started, nothing written
