"""The reference agent as a livekit-agents worker (real LiveKit rooms).

    python -m agent livekit start --agent-name autortc-ref --pre-rtc-dir output/pre_rtc

The worker registers `agent_name` for explicit dispatch (`CreateAgentDispatch`),
so it only joins rooms it is dispatched to. Each job runs in a livekit-agents job
process:

- `prewarm` (once per process) creates the `AgentEngines` (VAD model, espeak);
- the entrypoint connects to the room, wraps `ctx.room` in a
  `LiveKitRoomConnection.from_room(..., role="agent")` and calls the SAME
  `run_agent_job` the local worker uses, with the dispatch metadata
  (`ctx.job.metadata`) as the script; then it shuts the job down.

`AUTORTC_AGENT_READY agent_name=... health_port=...` is printed on stdout when the
server has accepted the registration (`AgentServer`'s `worker_registered` event,
about 3 s after start), so a supervisor waits for that line, not for a sleep.

Settings pinned here instead of livekit-agents' defaults, which suit one agent
per machine, not a test harness on a shared 2-core CI box:

| setting            | livekit-agents default (start)   | here (LiveKitWorkerSettings)    |
|--------------------|----------------------------------|---------------------------------|
| health HTTP server | 0.0.0.0:8081                     | 127.0.0.1:8081, port selectable |
| num_idle_processes | one per CPU (at most 4)          | 1                               |
| load_fnc           | the machine's CPU, 2.5 s average | running jobs / `max_jobs` (4)   |
| load_threshold     | 0.7 (dev: disabled)              | 1.0: full at `max_jobs` jobs    |
| drain_timeout      | 3600 s                           | 10 s                            |
| max_retry          | 16 (about 2 min of retries)      | 3 (gives up after ~6 s)         |

Why jobs, not CPU: the worker tells the server its status only every 2.5 s, and a
CPU load above the threshold marks it WS_FULL. On a busy 2-core CI box the harness
itself pushes the CPU over any threshold, so the server refused ("no servers
available") the dispatch sent right after a case ended, and the attempt waited out
its barrier as AGENT_NOT_JOINED. The harness bounds its own concurrency; the worker
only has to accept what the harness sends, with room for a job that is still ending.

The values are the same in `start` and `dev`, so both modes behave alike.
Credentials come from LIVEKIT_URL / LIVEKIT_API_KEY / LIVEKIT_API_SECRET in the
environment only; they are never put on a command line.
"""

from __future__ import annotations

import functools
import logging
import sys
from dataclasses import dataclass
from typing import Any, Literal

from livekit.agents import AgentServer, AutoSubscribe, JobContext, JobProcess, WorkerOptions, cli

from agent.session import AgentEngines, AgentOptions, run_agent_job
from agent.worker import READY_LINE
from autortc.errors import InputError
from autortc.gc_pauses import guard_real_time_process
from autortc.transport.livekit_room import LiveKitRoomConnection

logger = logging.getLogger(__name__)

Mode = Literal["start", "dev"]
ENGINES_KEY = "autortc_engines"
DEFAULT_HEALTH_HOST = "127.0.0.1"
DEFAULT_HEALTH_PORT = 8081
LOG_LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "CRITICAL")


@dataclass(frozen=True)
class LiveKitWorkerSettings:
    """How the worker process itself runs (validated in __post_init__)."""

    agent_name: str = "autortc-ref"
    health_host: str = DEFAULT_HEALTH_HOST
    health_port: int = DEFAULT_HEALTH_PORT  # 0: any free port (printed in the ready line)
    num_idle_processes: int = 1
    max_jobs: int = 4  # the load is running jobs / max_jobs
    load_threshold: float = 1.0
    drain_timeout_s: int = 10  # livekit-agents treats 0 as "wait forever": must be >= 1
    max_retry: int = 3  # connection attempts before the worker gives up (resets once connected)
    initialize_process_timeout_s: float = 30.0  # prewarm loads the VAD model: slow on a busy box

    def __post_init__(self) -> None:
        if not self.agent_name:
            raise InputError("agent_name must be non-empty (the worker uses explicit dispatch)")
        if not 0 <= self.health_port <= 65535:
            raise InputError(f"health_port must be 0..65535, got {self.health_port}")
        if self.num_idle_processes < 0:
            raise InputError("num_idle_processes must be >= 0")
        if self.max_jobs < 1:
            raise InputError(f"max_jobs must be >= 1, got {self.max_jobs}")
        if not 0.0 < self.load_threshold <= 1.0:
            raise InputError(f"load_threshold must be in (0, 1], got {self.load_threshold}")
        if self.drain_timeout_s < 1 or self.initialize_process_timeout_s <= 0:
            raise InputError("drain_timeout_s must be >= 1 and initialize_process_timeout_s > 0")
        if self.max_retry < 0:
            raise InputError("max_retry must be >= 0")


def job_count_load(max_jobs: int, server: AgentServer) -> float:
    """The worker's load: its running jobs over `max_jobs` (not the machine's CPU)."""
    return len(server.active_jobs) / max_jobs


def prewarm(options: AgentOptions, proc: JobProcess) -> None:
    """Once per job process, before any job: the expensive engines."""
    proc.userdata[ENGINES_KEY] = AgentEngines.create(options)
    guard_real_time_process()  # the job process: no gen-2 GC pause mid-reply


async def entrypoint(options: AgentOptions, ctx: JobContext) -> None:
    """One dispatched job: the reference agent in `ctx.room` until the bots leave."""
    await ctx.connect(auto_subscribe=AutoSubscribe.AUDIO_ONLY)
    engines = ctx.proc.userdata.get(ENGINES_KEY) or AgentEngines.create(options)
    conn = LiveKitRoomConnection.from_room(ctx.room, role="agent")
    try:
        await run_agent_job(
            conn, engines=engines, options=options, metadata=ctx.job.metadata or None
        )
    finally:
        # the room belongs to the job: leaving it ends the job promptly
        ctx.shutdown(reason="autortc: agent job done")


def build_worker_options(settings: LiveKitWorkerSettings, options: AgentOptions) -> WorkerOptions:
    """The livekit-agents `WorkerOptions` (ServerOptions) with every setting pinned.

    Entrypoint and prewarm are `functools.partial`s of module-level functions, so
    they pickle into the job processes with the agent's options.
    """
    return WorkerOptions(
        entrypoint_fnc=functools.partial(entrypoint, options),
        prewarm_fnc=functools.partial(prewarm, options),
        agent_name=settings.agent_name,
        host=settings.health_host,
        port=settings.health_port,
        num_idle_processes=settings.num_idle_processes,
        load_fnc=functools.partial(job_count_load, settings.max_jobs),
        load_threshold=settings.load_threshold,
        drain_timeout=settings.drain_timeout_s,
        initialize_process_timeout=settings.initialize_process_timeout_s,
        max_retry=settings.max_retry,
    )


def build_server(settings: LiveKitWorkerSettings, options: AgentOptions) -> AgentServer:
    """An `AgentServer` from the options, printing the ready line once it registers."""
    server = AgentServer.from_server_options(build_worker_options(settings, options))
    printed = False

    def on_registered(worker_id: str, *_: Any) -> None:
        nonlocal printed
        if printed:  # a re-registration after a reconnect is not news
            logger.info("agent worker re-registered", extra={"worker_id": worker_id})
            return
        printed = True
        port = server.worker_info.http_port
        line = READY_LINE.format(agent_name=settings.agent_name) + f" health_port={port}"
        print(line, flush=True)

    server.on("worker_registered", on_registered)
    return server


def livekit_cli_argv(mode: Mode, *, log_level: str) -> list[str]:
    """What livekit-agents' CLI gets to parse: the mode and the log level, nothing of ours
    (and never a credential: those stay in the environment)."""
    if mode not in ("start", "dev"):
        raise InputError(f"mode must be 'start' or 'dev', got {mode!r}")
    level = log_level.upper()
    if level not in LOG_LEVELS:
        raise InputError(f"log level must be one of {', '.join(LOG_LEVELS)}, got {log_level!r}")
    argv = [mode, "--log-level", level]
    if mode == "dev":
        argv.append("--no-reload")  # in-process reload is gone from this CLI anyway
    return argv


def run_livekit_worker(
    mode: Mode, settings: LiveKitWorkerSettings, options: AgentOptions, *, log_level: str = "INFO"
) -> None:
    """Run until SIGINT/SIGTERM (livekit-agents' CLI owns the event loop and signals)."""
    server = build_server(settings, options)
    sys.argv = [sys.argv[0] or "agent", *livekit_cli_argv(mode, log_level=log_level)]
    cli.run_app(server)
