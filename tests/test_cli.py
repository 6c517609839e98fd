"""Bad input gets one clear message and exit 2, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "autortc.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "case file not found"),
        ("id: x\npriority: P0\n  bad: [\n", "malformed YAML at line 3"),
        ("id: x\npriority: P7\nturns: [{say: hi}]\nagent: {reply_text: hi}\n", "field 'priority'"),
    ],
    ids=["missing_file", "malformed_yaml", "bad_field"],
)
def test_bad_case_file_exits_2_naming_file_and_problem(
    tmp_path: Path, content: str | None, expected: str
) -> None:
    path = tmp_path / "x.yaml"
    if content is not None:
        path.write_text(content)
    proc = _run(
        "run", "--suite", str(path), "--local", "--output", str(tmp_path / "out"), cwd=tmp_path
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert str(path) in proc.stderr or "x.yaml" in proc.stderr
    assert expected in proc.stderr
    assert not (tmp_path / "out").exists()  # nothing started, nothing written


def test_unknown_suite_name_exits_2(tmp_path: Path) -> None:
    proc = _run("run", "--suite", "nope", "--local", cwd=tmp_path)
    assert proc.returncode == 2
    assert "unknown suite 'nope'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_missing_baseline_exits_2_before_running(tmp_path: Path) -> None:
    proc = _run(
        "run",
        "--suite",
        "mini",
        "--local",
        "--baseline",
        str(tmp_path / "none.json"),
        "--output",
        str(tmp_path / "out"),
        cwd=tmp_path,
    )
    assert proc.returncode == 2
    assert "baseline file not found" in proc.stderr
    assert not (tmp_path / "out").exists()


def test_bad_gates_config_names_the_field(tmp_path: Path) -> None:
    gates = tmp_path / "gates.yaml"
    gates.write_text("max_gap_limit_ms: lots\n")
    proc = _run("run", "--suite", "mini", "--local", "--gates", str(gates), cwd=tmp_path)
    assert proc.returncode == 2
    assert "gates.yaml" in proc.stderr
    assert "Traceback" not in proc.stderr
