"""`autortc run` end to end against a real livekit-server (skipped unless LIVEKIT_URL is set).

    livekit-server --dev --bind 127.0.0.1
    LIVEKIT_URL=ws://127.0.0.1:7880 LIVEKIT_API_KEY=devkey LIVEKIT_API_SECRET=secret \
        .venv/bin/python -m pytest -m livekit tests/livekit/test_livekit_e2e.py

`autortc run` starts the reference agent as a livekit-agents worker
(`python -m agent livekit start`), dispatches it into every room with
CreateAgentDispatch, and runs the bots as processes. Checked here:
(a) the mini suite is captured OK, with the barge-in cutting the first reply;
(b) black-box mode (agent hooks off) slices from energy and still measures;
(c) a wrong key, a wrong URL or a refused port exits 2 with one sentence in < 5 s;
(d) the API secret appears in no output file and in neither stdout nor stderr.
"""

from __future__ import annotations

import http.server
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.livekit,
    pytest.mark.timeout(900),  # the module fixture runs the whole mini suite
    pytest.mark.skipif(
        not os.environ.get("LIVEKIT_URL"), reason="LIVEKIT_URL not set: needs a real livekit-server"
    ),
]

MINI = ("endpoint_short_hello", "endpoint_long_sentence", "interrupt_once", "noise_background")
BLACKBOX_CASES = ("endpoint_short_hello", "endpoint_long_sentence")


def _autortc_run(
    tmp: Path, *args: str, env: dict[str, str] | None = None, timeout_s: float = 600
) -> tuple[int, str, str, float]:
    t0 = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "autortc.cli", "run", "--output", str(tmp / "out"), *args],
        cwd=tmp,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )
    try:
        out, err = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.terminate()  # SIGTERM: the run deletes its rooms and stops its worker
        out, err = proc.communicate(timeout=60)
        pytest.fail(f"autortc run took over {timeout_s:.0f} s: {err[-3000:]}")
    print(out, err[-3000:])
    return proc.returncode, out, err, time.monotonic() - t0


def _final_metrics(run_dir: Path, case_id: str) -> dict:
    attempts = sorted((run_dir / case_id).glob("a*"))
    return json.loads((attempts[-1] / "metrics.json").read_text())


def _secret_pattern() -> re.Pattern[bytes]:
    """The secret as a whole token (the dev server's secret is the plain word "secret",
    which must not match e.g. `api_secret` or `LIVEKIT_API_SECRET`)."""
    secret = os.environ["LIVEKIT_API_SECRET"].encode()
    return re.compile(rb"(?<![A-Za-z0-9_])" + re.escape(secret) + rb"(?![A-Za-z0-9_])")


def _assert_secret_nowhere(root: Path, *texts: str) -> None:
    pattern = _secret_pattern()
    for text in texts:
        assert not pattern.search(text.encode()), "the API secret is in the command output"
    for path in root.rglob("*"):
        if path.is_file():
            assert not pattern.search(path.read_bytes()), f"the API secret is in {path}"


def _suite(tmp: Path, cases: tuple[str, ...]) -> Path:
    path = tmp / "suite.yaml"
    path.write_text("suite: lk\ncases:\n" + "".join(f"  - {c}\n" for c in cases))
    return path


@pytest.fixture(scope="module")
def mini_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, Path, str, str, Path]:
    tmp = tmp_path_factory.mktemp("lk_mini")
    code, out, err, _ = _autortc_run(tmp, "--suite", "mini")
    assert code in (0, 1), err[-2000:]
    (run_dir,) = list((tmp / "out").iterdir())
    return code, run_dir, out, err, tmp


def test_mini_suite_through_livekit_agents_is_captured_ok(mini_run) -> None:
    _, run_dir, out, _, _ = mini_run
    assert "on LiveKit" in out
    for case_id in MINI:
        m = _final_metrics(run_dir, case_id)
        assert m["capture_status"] == "OK", (case_id, m.get("null_reasons"))
        assert m["slice_source"] == "events"
        assert m["eot_to_first_audio_ms"] is not None
    agent_log = (run_dir / "agent.log").read_text()
    assert "AUTORTC_AGENT_READY agent_name=autortc-ref" in agent_log
    assert "registered worker" in agent_log  # livekit-agents' own registration


def test_mini_suite_barge_in_interrupts_the_first_reply(mini_run) -> None:
    _, run_dir, _, _, _ = mini_run
    replies = _final_metrics(run_dir, "interrupt_once")["replies"]
    assert replies[0]["interrupted"] is True
    assert replies[1]["interrupted"] is False


def test_mini_suite_never_writes_or_prints_the_api_secret(mini_run) -> None:
    _, _, out, err, tmp = mini_run
    _assert_secret_nowhere(tmp, out, err)  # run dir, agent.log, bot logs, pre_rtc


def test_blackbox_against_the_reference_agent_slices_from_energy(tmp_path: Path) -> None:
    code, out, err, _ = _autortc_run(
        tmp_path, "--suite", str(_suite(tmp_path, BLACKBOX_CASES)), "--blackbox"
    )
    assert code in (0, 1), err[-2000:]
    (run_dir,) = list((tmp_path / "out").iterdir())
    for case_id in BLACKBOX_CASES:
        m = _final_metrics(run_dir, case_id)
        assert m["slice_source"] == "energy", case_id
        assert m["capture_status"] == "NO_REPLY_EVENTS", (case_id, m.get("null_reasons"))
        assert 200 < m["eot_to_first_audio_ms"] < 3000
        assert m["agent_eot_to_first_audio_ms"] is None
        assert m["null_reasons"]["agent_eot_to_first_audio_ms"]
    _assert_secret_nowhere(tmp_path, out, err)


def _refused_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"ws://127.0.0.1:{sock.getsockname()[1]}"


class _NotLiveKit(http.server.BaseHTTPRequestHandler):
    """A web server that is not LiveKit: 404 for everything."""

    def _not_found(self) -> None:
        body = b"404 page not found"
        self.send_response(404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _not_found

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def not_livekit_url() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _NotLiveKit)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"ws://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    ("what", "env", "expect"),
    [
        (
            "wrong key",
            {
                "LIVEKIT_API_KEY": "APIwrongkey",
                "LIVEKIT_API_SECRET": "wrong-secret-0123456789abcdef",
            },
            "rejected",
        ),
        ("wrong URL", {"LIVEKIT_URL": "not-livekit"}, "points at a LiveKit server"),
        ("refused port", {"LIVEKIT_URL": "refused"}, "connection refused"),
    ],
)
def test_bad_livekit_settings_exit_2_with_one_sentence_within_5_s(
    tmp_path: Path,
    what: str,
    env: dict[str, str],
    expect: str,
    not_livekit_url: str,
) -> None:
    urls = {"refused": _refused_url(), "not-livekit": not_livekit_url}
    env = {k: urls.get(v, v) for k, v in env.items()}
    code, out, err, wall_s = _autortc_run(
        tmp_path, "--suite", str(_suite(tmp_path, ("endpoint_short_hello",))), env=env, timeout_s=30
    )
    assert code == 2, what
    assert wall_s < 5.0, f"{what}: {wall_s:.1f} s"
    (line,) = err.strip().splitlines()
    assert line.startswith("autortc: error: LiveKit check failed: "), line
    assert expect in line, line
    assert "Traceback" not in out + err
    assert not list((tmp_path / "out").glob("*/agent.log"))  # no worker was started
    secret = env.get("LIVEKIT_API_SECRET") or os.environ["LIVEKIT_API_SECRET"]
    token = re.compile(r"(?<![A-Za-z0-9_])" + re.escape(secret) + r"(?![A-Za-z0-9_])")
    assert not token.search(out + err)
