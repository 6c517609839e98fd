"""The reference agent's engines end to end, through `autortc run` (issue 14).

- The OpenAI-compatible LLM against a local server that streams SSE chunks the way vLLM
  does (agent/fake_llm_server.py), with a set first-token delay: the run's
  `fast_lane_ttft_ms` (llm_first_token - llm_request on the agent's clock) must be that
  delay plus at most 100 ms of overhead, and the API key must appear in no artefact.
- The offline recogniser (pocketsphinx) instead of the scripted one, picked by the case
  (`agent.stt`): the attempt is captured OK and the turn has its `stt_final`.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.fake_llm_server import FakeLlmServer

pytestmark = [pytest.mark.e2e, pytest.mark.realtime]

REPO = Path(__file__).resolve().parents[2]
FIRST_TOKEN_DELAY_MS = 250.0
TTFT_OVERHEAD_MAX_MS = 100.0
SECRET = "sk-autortc-test-0123456789abcdef"
REPLY = "There is a small chance of light rain after three, so you may want an umbrella."


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "autortc.cli", "run", "--local", "--jobs", "1", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


@pytest.fixture(scope="module")
def llm_server() -> Iterator[FakeLlmServer]:
    """The vLLM-shaped server, on its own event loop in a thread, for the run's agent."""
    started = threading.Event()
    stop: asyncio.Event | None = None
    box: list[FakeLlmServer] = []
    loop = asyncio.new_event_loop()

    async def serve() -> None:
        nonlocal stop
        stop = asyncio.Event()
        async with FakeLlmServer(
            reply=REPLY, first_token_delay_ms=FIRST_TOKEN_DELAY_MS, api_key=SECRET
        ) as srv:
            box.append(srv)
            started.set()
            await stop.wait()

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    assert started.wait(10)
    yield box[0]
    assert stop is not None
    loop.call_soon_threadsafe(stop.set)
    thread.join(10)


def _metrics(out: Path, case: str) -> dict[str, object]:
    (path,) = list(out.glob(f"*/{case}/a*/metrics.json"))
    body: dict[str, object] = json.loads(path.read_text())
    return body


def _trace(out: Path, case: str) -> list[dict[str, object]]:
    (path,) = list(out.glob(f"*/{case}/a*/agent_trace.json"))
    points: list[dict[str, object]] = json.loads(path.read_text())["points"]
    return points


@pytest.mark.timeout(300)
def test_the_openai_compatible_llm_ttft_matches_the_servers_first_token_delay(
    llm_server: FakeLlmServer, tmp_path: Path
) -> None:
    env = {**os.environ, "AUTORTC_LLM_API_KEY": SECRET}
    proc = _cli(
        "--suite", "cases/defs/endpoint_question.yaml", "--output", str(tmp_path),
        "--llm", "openai", "--llm-base-url", llm_server.base_url, "--llm-model", "fake-llm",
        env=env,
    )  # fmt: skip
    body = _metrics(tmp_path, "endpoint_question")
    assert body["capture_status"] == "OK", (proc.stdout, proc.stderr)
    ttft = body["fast_lane_ttft_ms"]
    assert isinstance(ttft, float)
    # never sooner than the server's delay; the rest is the HTTP exchange, SSE parsing and
    # the agent's event loop, busy beside the bots on 2 cores: 7 to 70 ms (257 to 320 ms
    # measured in 14 runs), still short of what a figure taken from the wrong point (the
    # caller's end of turn, behind a 350 ms VAD hangover) would add
    assert FIRST_TOKEN_DELAY_MS <= ttft <= FIRST_TOKEN_DELAY_MS + TTFT_OVERHEAD_MAX_MS, ttft
    # the agent asked the server (with the key), and said what the server answered
    assert llm_server.requests
    assert all(r.has_auth for r in llm_server.requests)
    assert body["eot_to_first_audio_ms"] is not None
    # the key is in no artefact of the run
    for f in tmp_path.rglob("*"):
        if f.is_file() and f.suffix in (".log", ".json", ".md", ".html", ".csv", ".xml"):
            assert SECRET not in f.read_text(errors="replace"), f
    assert SECRET not in proc.stdout + proc.stderr


@pytest.mark.timeout(300)
def test_a_case_runs_with_the_offline_recogniser_and_is_captured_ok(tmp_path: Path) -> None:
    pytest.importorskip("pocketsphinx")
    proc = _cli("--suite", "cases/defs/offline_stt.yaml", "--output", str(tmp_path))
    body = _metrics(tmp_path, "offline_stt")
    assert body["capture_status"] == "OK", (proc.stdout, proc.stderr)
    assert proc.returncode == 0, proc.stdout
    points = {p["point"] for p in _trace(tmp_path, "offline_stt") if p["turn_id"] == 0}
    assert {"stt_final", "user_eot", "first_frame_published"} <= points
    log = next(tmp_path.glob("*/agent.log")).read_text()
    assert "user transcript" in log
    assert "engine=pocketsphinx" in log
