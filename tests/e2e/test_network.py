"""A simulated network on the embedded transport, end to end with the reference agent
(issue 13): a clean link conceals nothing, lossy_20 conceals and drops audio out, Opus
moves mel_distance off PCM's 0 dB. (The same seed's same received audio is tested on
the room server itself, tests/network/test_local_network.py: through the agent, a
reply starts in either half of a 20 ms packet from run to run.)"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from autortc.metrics import registry as M

pytestmark = [pytest.mark.e2e, pytest.mark.realtime]

REPO = Path(__file__).resolve().parents[2]
SUITE = "suite: net\ncases: [endpoint_short_hello]\n"


def _cli(*args: str, timeout_s: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "autortc.cli", "run", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )


def _run(tmp_path: Path, name: str, *args: str) -> dict[str, object]:
    suite = tmp_path / "net.yaml"
    suite.write_text(SUITE)
    out = tmp_path / name
    proc = _cli(
        "--local", "--suite", str(suite), "--output", str(out), "--jobs", "1", *args, timeout_s=120
    )
    (metrics,) = list(out.glob("*/endpoint_short_hello/a1/metrics.json"))
    body: dict[str, object] = json.loads(metrics.read_text())
    assert body["capture_status"] == "OK", (proc.stdout, proc.stderr)
    return body


@pytest.mark.timeout(300)
def test_clean_conceals_nothing_lossy_20_conceals_and_opus_degrades(tmp_path: Path) -> None:
    plain = _run(tmp_path, "plain")
    clean = _run(tmp_path, "clean", "--network", "clean", "--codec", "pcm")
    lossy = _run(tmp_path, "lossy", "--network", "lossy_20", "--codec", "pcm")
    opus = _run(tmp_path, "opus", "--network", "clean", "--codec", "opus")
    assert plain.get(M.CONCEAL_EVENTS.name) is None  # no network: no jitter buffer at all
    assert clean[M.CONCEAL_EVENTS.name] == 0
    assert clean[M.AUDIBLE_DROPOUT.name] == 0
    assert lossy[M.CONCEAL_EVENTS.name] > 0
    assert lossy[M.CONCEALED_MS.name] > 0
    assert lossy[M.AUDIBLE_DROPOUT.name] > 0
    assert clean[M.MEL_DISTANCE.name] < 0.5  # PCM through the buffer: bit-exact
    assert opus[M.MEL_DISTANCE.name] > clean[M.MEL_DISTANCE.name] + 0.5
    assert opus[M.CONCEAL_EVENTS.name] == 0


def test_a_network_on_livekit_is_refused_with_exit_2(tmp_path: Path) -> None:
    proc = _cli("--livekit-url", "ws://127.0.0.1:1", "--network", "wifi", "--output", str(tmp_path))
    assert proc.returncode == 2
    assert "embedded transport" in proc.stderr


def test_an_unknown_profile_is_refused_with_exit_2_naming_the_choices(tmp_path: Path) -> None:
    proc = _cli("--local", "--network", "moon", "--output", str(tmp_path))
    assert proc.returncode == 2
    assert "no network profile 'moon'" in proc.stderr
    assert "lossy_20" in proc.stderr
