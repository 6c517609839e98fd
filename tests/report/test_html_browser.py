"""report.html in a real headless chromium: it renders, has its sections, no console errors."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

SCREENSHOT = Path("/tmp/report_screenshot.png")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--enable-logging=stderr",
    "--v=0",
]


def _chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        pytest.skip("chromium not installed: apt-get install chromium")
    return exe


def _run(exe: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [exe, *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _console_errors(stderr: str) -> list[str]:
    return [
        ln
        for ln in stderr.splitlines()
        if "Uncaught" in ln or ("CONSOLE" in ln and re.search(r"error", ln, re.IGNORECASE))
    ]


def test_report_html_renders_in_headless_chromium(mixed_run, tmp_path):
    exe = _chromium()
    run_dir, _ = mixed_run
    url = (run_dir / "report.html").resolve().as_uri()
    dom = _run(exe, tmp_path / "p1", "--dump-dom", url)
    assert dom.returncode == 0, dom.stderr[-2000:]
    for section in (
        'id="kpi"',
        'id="gates"',
        'id="latency"',
        'id="cases"',
        'id="fixes"',
        'id="case-details"',
        'id="case-endpoint_short_hello"',
        'id="case-blackbox_case"',
    ):
        assert section in dom.stdout
    assert dom.stdout.count("<audio") == 11
    assert dom.stdout.count('class="wave"') == 7
    assert _console_errors(dom.stderr) == []

    shot = _run(exe, tmp_path / "p2", f"--screenshot={SCREENSHOT}", "--window-size=1280,2000", url)
    assert shot.returncode == 0, shot.stderr[-2000:]
    assert SCREENSHOT.stat().st_size > 20_000  # a real rendered page, not a blank one
    assert _console_errors(shot.stderr) == []


def test_console_error_detection_catches_a_broken_page(tmp_path):
    """Guards the guard: a page with a JS error must be flagged by `_console_errors`."""
    exe = _chromium()
    bad = tmp_path / "bad.html"
    bad.write_text("<!DOCTYPE html><html><body><script>undefinedFn();</script></body></html>")
    res = _run(exe, tmp_path / "p3", "--dump-dom", bad.as_uri())
    assert _console_errors(res.stderr), res.stderr[-2000:]
