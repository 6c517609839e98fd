"""The reference agent's livekit-agents worker and `autortc run`'s LiveKit preflight,
without a LiveKit server.

- the WorkerOptions we build pin what livekit-agents' defaults get wrong for a
  test harness (health server on loopback, port, idle processes, load threshold),
  identically in `start` and `dev`;
- the ready line is printed once, on the worker's registration event;
- `autortc run` against a refused port or rejected credentials exits 2 with one
  sentence within 5 s, and the API secret appears nowhere (stdout, stderr, files).
"""

from __future__ import annotations

import asyncio
import os
import pickle
import sys
import time
from pathlib import Path

import pytest
from livekit.agents.worker import ServerEnvOption

from agent.__main__ import build_parser
from agent.livekit_worker import (
    LiveKitWorkerSettings,
    build_server,
    build_worker_options,
    livekit_cli_argv,
)
from agent.session import AgentOptions
from autortc.errors import InfraError, InputError
from autortc.orchestrator import check_livekit
from autortc.stack import LiveKitAgentWorkerProcess, livekit_worker_args

from .conftest import KEY, SECRET
from .twirp_stub import TwirpStub, refused_url

REPO = Path(__file__).resolve().parents[2]


def _both_modes(value: object) -> tuple[object, object]:
    return ServerEnvOption.getvalue(value, False), ServerEnvOption.getvalue(value, True)


def test_worker_options_pin_health_server_idle_processes_and_load_in_both_modes() -> None:
    settings = LiveKitWorkerSettings(
        agent_name="ref-x", health_port=18081, num_idle_processes=2, load_threshold=0.9
    )
    opts = build_worker_options(settings, AgentOptions())
    assert opts.agent_name == "ref-x"
    assert opts.host == "127.0.0.1"  # livekit-agents' default "" listens on every interface
    assert _both_modes(opts.port) == (18081, 18081)
    assert _both_modes(opts.num_idle_processes) == (2, 2)
    assert _both_modes(opts.load_threshold) == (0.9, 0.9)  # default: 0.7 in start, off in dev
    assert opts.drain_timeout == settings.drain_timeout_s
    assert opts.max_retry == 3  # a wrong URL or key ends the worker in seconds, not minutes
    assert opts.api_secret is None
    assert opts.ws_url is None


def test_default_settings_are_loopback_8081_one_idle_process_and_full_at_4_jobs() -> None:
    opts = build_worker_options(LiveKitWorkerSettings(), AgentOptions())
    assert (opts.host, opts.port, opts.num_idle_processes, opts.load_threshold) == (
        "127.0.0.1",
        8081,
        1,
        1.0,
    )
    args = build_parser().parse_args(["livekit", "start"])
    assert (
        args.health_host,
        args.health_port,
        args.num_idle_processes,
        args.max_jobs,
        args.load_threshold,
    ) == ("127.0.0.1", 8081, 1, 4, 1.0)


class _Jobs:
    """Stands in for AgentServer where the load function reads it: `active_jobs`."""

    def __init__(self, n: int) -> None:
        self.active_jobs = [object()] * n


def test_the_load_counts_jobs_not_the_cpu_and_is_full_only_at_max_jobs() -> None:
    opts = build_worker_options(LiveKitWorkerSettings(max_jobs=2), AgentOptions())
    load = opts.load_fnc
    assert [load(_Jobs(n)) for n in (0, 1, 2)] == [0.0, 0.5, 1.0]  # type: ignore[arg-type,call-arg]
    # the worker is full when load >= load_threshold (livekit-agents `_update_worker_status`)
    assert [load(_Jobs(n)) >= opts.load_threshold for n in (0, 1, 2)] == [False, False, True]  # type: ignore[arg-type,call-arg]
    assert pickle.loads(pickle.dumps(load)).args == (2,)


def test_agent_server_carries_the_pinned_settings() -> None:
    server = build_server(
        LiveKitWorkerSettings(health_port=0, num_idle_processes=0, load_threshold=0.8),
        AgentOptions(),
    )
    assert (server._host, server._port) == ("127.0.0.1", 0)
    assert (server._num_idle_processes, server._load_threshold) == (0, 0.8)
    assert server._agent_name == "autortc-ref"


def test_entrypoint_and_prewarm_pickle_into_job_processes_with_the_agent_options() -> None:
    options = AgentOptions(vad_hangover_ms=420, autortc_hooks=False, pre_rtc_dir="/x/pre")
    opts = build_worker_options(LiveKitWorkerSettings(), options)
    for fn in (opts.entrypoint_fnc, opts.prewarm_fnc):
        clone = pickle.loads(pickle.dumps(fn))
        assert clone.args == (options,)


def test_ready_line_is_printed_once_on_registration(capsys: pytest.CaptureFixture[str]) -> None:
    server = build_server(LiveKitWorkerSettings(agent_name="ref-y"), AgentOptions())
    assert capsys.readouterr().out == ""
    server.emit("worker_registered", "AW_1", None)
    server.emit("worker_registered", "AW_1", None)  # a reconnect re-registers
    lines = capsys.readouterr().out.splitlines()
    assert lines == ["AUTORTC_AGENT_READY agent_name=ref-y health_port=0"]


@pytest.mark.parametrize(
    "bad",
    [
        {"health_port": 70000},
        {"num_idle_processes": -1},
        {"load_threshold": 0.0},
        {"load_threshold": 1.5},
        {"max_jobs": 0},
        {"agent_name": ""},
        {"drain_timeout_s": 0},  # livekit-agents reads 0 as "drain forever"
        {"max_retry": -1},
    ],
)
def test_invalid_worker_settings_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(InputError, match=next(iter(bad))):
        LiveKitWorkerSettings(**bad)  # type: ignore[arg-type]


def test_livekit_cli_gets_only_mode_and_log_level() -> None:
    assert livekit_cli_argv("start", log_level="info") == ["start", "--log-level", "INFO"]
    assert livekit_cli_argv("dev", log_level="DEBUG") == [
        "dev",
        "--log-level",
        "DEBUG",
        "--no-reload",
    ]
    with pytest.raises(InputError, match="mode"):
        livekit_cli_argv("console", log_level="INFO")  # type: ignore[arg-type]


def test_worker_command_line_has_the_settings_and_no_credential(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LIVEKIT_API_SECRET", SECRET)
    args = livekit_worker_args(
        agent_name="ref", pre_rtc_dir=Path("/p"), extra_args=["--no-autortc-hooks"], health_port=0
    )
    assert args[1:5] == ["-m", "agent", "livekit", "start"]
    assert "--no-autortc-hooks" in args
    assert args[args.index("--health-port") + 1] == "0"
    assert not any(SECRET in a or KEY in a for a in args)
    parsed = build_parser().parse_args(args[3:])
    assert parsed.no_autortc_hooks
    assert parsed.health_port == 0


async def test_worker_supervisor_reads_health_port_and_stops_the_process(tmp_path: Path) -> None:
    script = (
        "import time; print('noise'); "
        "print('AUTORTC_AGENT_READY agent_name=ref health_port=43210', flush=True); "
        "time.sleep(60)"
    )
    proc = await LiveKitAgentWorkerProcess._launch(
        [sys.executable, "-c", script], log_path=tmp_path / "agent.log", ready_timeout_s=10
    )
    try:
        assert proc.alive
        assert proc.health_port == 43210
    finally:
        t0 = time.monotonic()
        await proc.aclose()
        await proc.aclose()  # idempotent
    assert not proc.alive
    assert time.monotonic() - t0 < 5
    assert "noise" in (tmp_path / "agent.log").read_text()


# --- `autortc run` preflight -------------------------------------------------------


async def test_check_livekit_passes_against_a_healthy_server(
    stub: TwirpStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LIVEKIT_API_KEY", KEY)
    monkeypatch.setenv("LIVEKIT_API_SECRET", SECRET)
    await check_livekit(stub.url)
    assert stub.rooms == {}


async def test_check_livekit_names_rejected_credentials_in_one_sentence(
    stub: TwirpStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    stub.mode = "unauthenticated"
    monkeypatch.setenv("LIVEKIT_API_KEY", KEY)
    monkeypatch.setenv("LIVEKIT_API_SECRET", SECRET)
    with pytest.raises(InfraError) as info:
        await check_livekit(stub.url)
    msg = str(info.value)
    assert "LIVEKIT_API_KEY/SECRET rejected" in msg
    assert SECRET not in msg
    assert "\n" not in msg


async def _autortc_run(
    url: str, tmp_path: Path, *, key: str = KEY, secret: str = SECRET
) -> tuple[int, str, str, float]:
    suite = tmp_path / "suite.yaml"
    suite.write_text("suite: one\ncases:\n  - endpoint_short_hello\n")
    env = {**os.environ, "LIVEKIT_URL": url, "LIVEKIT_API_KEY": key, "LIVEKIT_API_SECRET": secret}
    t0 = time.monotonic()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "autortc.cli",
        "run",
        "--suite",
        str(suite),
        "--output",
        str(tmp_path / "out"),
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=30)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode(), time.monotonic() - t0


def _assert_secret_nowhere(tmp_path: Path, *texts: str) -> None:
    for text in texts:
        assert SECRET not in text
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path


async def test_autortc_run_on_a_refused_port_exits_2_in_one_sentence_within_5_s(
    tmp_path: Path,
) -> None:
    url = refused_url()
    code, out, err, wall_s = await _autortc_run(url, tmp_path)
    assert code == 2, err
    assert wall_s < 5.0
    assert err.strip().splitlines() == [
        f"autortc: error: LiveKit check failed: Cannot reach LiveKit at {url}: connection "
        "refused; is livekit-server running there (e.g. `livekit-server --dev --bind 127.0.0.1`)?"
    ]
    assert "Traceback" not in out + err
    _assert_secret_nowhere(tmp_path, out, err)
    _assert_no_run_dir(tmp_path)


def _assert_no_run_dir(tmp_path: Path) -> None:
    """A run refused by the LiveKit check leaves no empty run directory behind."""
    out = tmp_path / "out"
    assert not out.exists() or list(out.iterdir()) == []


async def test_autortc_run_with_a_rejected_key_exits_2_within_5_s_and_never_leaks_the_secret(
    stub: TwirpStub, tmp_path: Path
) -> None:
    stub.mode = "unauthenticated"
    code, out, err, wall_s = await _autortc_run(stub.url, tmp_path)
    assert code == 2, err
    assert wall_s < 5.0
    (line,) = err.strip().splitlines()
    assert line.startswith("autortc: error: LiveKit check failed: LIVEKIT_API_KEY/SECRET rejected")
    _assert_secret_nowhere(tmp_path, out, err)
    assert stub.calls("/CreateRoom") == []  # stopped at ListRooms: no room, no process
    _assert_no_run_dir(tmp_path)


async def test_dev_server_credentials_still_give_exactly_one_line_on_stderr(
    tmp_path: Path,
) -> None:
    """`livekit-server --dev` signs with the 6-byte secret "secret": PyJWT's short-key
    warning must not add lines to the one-sentence error."""
    server = await TwirpStub("devkey", "secret").start()
    server.mode = "not_a_livekit_server"
    try:
        code, out, err, _ = await _autortc_run(server.url, tmp_path, key="devkey", secret="secret")
    finally:
        await server.stop()
    assert code == 2, err
    assert "Traceback" not in out + err
    assert err.strip().splitlines() == [
        "autortc: error: LiveKit check failed: ListRooms failed: "
        f"{server.url} answered 404; "
        "check that LIVEKIT_URL points at a LiveKit server."
    ]
    _assert_no_run_dir(tmp_path)
