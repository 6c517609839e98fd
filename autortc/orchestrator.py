"""Run a suite: set up the transport (and, locally, the room server and agent),
run every case attempt with one retry for infrastructure-like outcomes, then
hand the per-attempt metrics to gates, KPI and reports.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from autortc.attempt import AttemptContext, AttemptRecord
from autortc.bot_pool import BOT_MODULES, STRAY_MODULE, BotPool
from autortc.case_audio import load_turn_audio
from autortc.case_schema import Case, load_suite
from autortc.errors import CaseError, InfraError, InputError
from autortc.network.room import RoomNetwork
from autortc.quality.run import quality_pass, skipped
from autortc.schedule import in_case_order, run_all
from autortc.stack import AgentWorkerProcess, LiveKitAgentWorkerProcess
from autortc.supervise import Supervisor
from autortc.transport.base import Transport

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_AGENT_NAME = "autortc-ref"


@dataclass
class RunOptions:
    suite: str = "mini"
    output_root: Path = Path("output/autortc")
    pre_rtc_root: Path = Path("output/pre_rtc")
    cases_dir: Path = REPO_ROOT / "cases"
    baseline_path: Path | None = None
    gates_path: Path | None = None
    livekit_url: str | None = None  # None: the embedded local transport
    agent_name: str | None = DEFAULT_AGENT_NAME  # dispatched into every room; None: no dispatch
    start_agent: bool = True  # start the reference agent worker here
    agent_args: list[str] = field(default_factory=list)
    blackbox: bool = False
    room_prefix: str = "autortc"
    barrier_timeout_s: float = 15.0
    room_wait_s: float = 0.0
    jobs: int = 1  # case attempts at once, each in its own room
    # the embedded reference agent: each job in a process of its own (None: when jobs > 1)
    job_processes: int | None = None
    repeat: int = 1  # each case this many times, each in fresh rooms (r{repeat}a{attempt})
    shard: tuple[int, int] | None = None  # (K, N): only shard K of N of the cases (shards.py)
    max_attempts: int = 2
    run_id: str | None = None
    defect: str | None = None  # the reference agent injects it in every room
    stray: bool = False  # fault check: a stray participant sends garbage into every room
    echo: Callable[[str], object] = print  # progress output
    live: bool = False  # a live progress display (a terminal; progress.py)
    network: RoomNetwork | None = None  # embedded transport: impairment and codec per room
    listening: bool = False  # ViSQOL, STOI, DNSMOS, PLCMOS after the run (quality extra)
    heard_wer: bool = False  # the recogniser's WER of each first reply (heard extra)


@dataclass
class SuiteRun:
    run_id: str
    run_dir: Path
    cases: list[Case]
    records: list[AttemptRecord]
    wall_s: float
    transport_name: str
    startup_s: float | None = None  # until the stack was ready (server, agent worker)


@dataclass
class RunProgress:
    """What a run has done so far, kept by `run_cases` as it goes: whatever ends the run
    (an infrastructure error, a signal, a crash), the finished attempts can still be
    reported."""

    run_id: str = ""
    run_dir: Path = Path()
    transport_name: str = ""
    records: list[AttemptRecord] = field(default_factory=list)
    started: bool = False  # the first attempt began: from here on a report is owed
    in_flight: dict[str, Path] = field(default_factory=dict)  # "case_id aN" -> its dir
    t0: float = 0.0
    startup_s: float | None = None

    @property
    def current(self) -> str | None:
        """The attempts under way, "case_id aN[, ...]", or None."""
        return ", ".join(self.in_flight) or None

    @property
    def current_dir(self) -> str | None:
        """Where those attempts' recordings are."""
        return ", ".join(str(p) for p in self.in_flight.values()) or None

    def partial(self, cases: list[Case]) -> SuiteRun:
        return SuiteRun(
            run_id=self.run_id,
            run_dir=self.run_dir,
            cases=cases,
            records=in_case_order(self.records, cases),
            wall_s=time.monotonic() - self.t0,
            transport_name=self.transport_name,
            startup_s=self.startup_s,
        )


def new_run_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:6]


def preflight(opts: RunOptions) -> list[Case]:
    """Everything that can be wrong with the input, checked before any process starts.
    Returns the cases to run (the shard's, with --shard)."""
    cases = load_suite(opts.suite, cases_dir=opts.cases_dir)
    if opts.shard is not None:
        from autortc.shards import shard_of

        cases = shard_of(cases, *opts.shard)
        if not cases:
            raise InputError(f"--shard {opts.shard[0]}/{opts.shard[1]}: this shard has no case")
    for case in cases:
        for k in range(len(case.turns)):
            load_turn_audio(case, k, opts.cases_dir / "audio")
        if case.agent.defect is not None:
            from agent.defects import parse_defect

            try:
                parse_defect(case.agent.defect)
            except InputError as e:
                raise CaseError(str(opts.suite), f"{case.id}.agent.defect", str(e)) from None
    return cases


@contextlib.asynccontextmanager
async def transport_stack(
    opts: RunOptions, run_dir: Path
) -> AsyncIterator[tuple[Transport, str, Supervisor]]:
    """Yields (transport, url, the supervisor of the processes it started). Locally: a
    room server and the reference agent worker."""
    supervisor = Supervisor()
    if opts.livekit_url:
        from autortc.transport.livekit import LiveKitTransport

        # one clear sentence within seconds, before any process or file is made
        await check_livekit(opts.livekit_url)
        _make_dir(run_dir)
        transport: Transport = LiveKitTransport(url=opts.livekit_url)
        agent = None
        try:
            if opts.start_agent and opts.agent_name:
                agent = await _start_livekit_agent(opts, run_dir)
                supervisor.add("the agent worker", agent.returncode)
            yield transport, opts.livekit_url, supervisor
        finally:
            if agent is not None:
                await agent.aclose()
            await transport.aclose()
        return

    from autortc.transport.local import LocalTransport
    from autortc.transport.local_proc import start_local_server_process

    _make_dir(run_dir)
    server = start_local_server_process()
    supervisor.add("the room server", server.proc.poll)
    local_agent: AgentWorkerProcess | None = None
    transport = LocalTransport(server.url)
    try:
        if opts.start_agent and opts.agent_name:
            local_agent = await AgentWorkerProcess.start(
                url=server.url,
                agent_name=opts.agent_name,
                pre_rtc_dir=opts.pre_rtc_root,
                log_path=run_dir / "agent.log",
                extra_args=opts.agent_args,
                job_processes=local_job_processes(opts),
            )
            supervisor.add("the agent worker", local_agent.returncode)
        yield transport, server.url, supervisor
    finally:
        await transport.aclose()
        if local_agent is not None:
            await local_agent.aclose()
        server.stop()


def local_job_processes(opts: RunOptions) -> int:
    """Warm job processes for the embedded reference agent: one per job when attempts
    run at once (they would share one interpreter otherwise), none for one at a time."""
    if opts.job_processes is not None:
        return opts.job_processes
    return opts.jobs if opts.jobs > 1 else 0


def _make_dir(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)


LIVEKIT_CHECK_TIMEOUT_S = 4.0


async def check_livekit(url: str, *, timeout_s: float = LIVEKIT_CHECK_TIMEOUT_S) -> None:
    """autortc doctor's checks (reachable, credentials, room create/delete), bounded by
    `timeout_s`; the first failure becomes an InfraError of one sentence (exit 2).
    A missing LIVEKIT_API_KEY / _SECRET is an InputError naming it."""
    from autortc.doctor import run_doctor
    from autortc.transport.livekit_config import LiveKitCredentials

    creds = LiveKitCredentials.from_env({**os.environ, "LIVEKIT_URL": url})
    checks = await run_doctor(
        creds.url, creds.api_key, creds.api_secret, agent_name=None, timeout_s=timeout_s
    )
    failed = [c for c in checks if not c.ok]
    if failed or not checks:
        detail = failed[0].detail if failed else f"no check against {url} completed."
        raise InfraError(creds.redact(f"LiveKit check failed: {detail}"))


async def _start_livekit_agent(opts: RunOptions, run_dir: Path) -> LiveKitAgentWorkerProcess:
    """The reference agent as a livekit-agents worker on this host, registered under
    `opts.agent_name` (ready once the server accepted it, ~3 s). It writes pre_rtc to
    the run's shared pre_rtc root, from which each attempt collects it."""
    assert opts.livekit_url is not None
    agent = await LiveKitAgentWorkerProcess.start(
        livekit_url=opts.livekit_url,
        agent_name=opts.agent_name or DEFAULT_AGENT_NAME,
        pre_rtc_dir=opts.pre_rtc_root.resolve(),
        log_path=run_dir / "agent.log",
        extra_args=opts.agent_args,
        health_port=0,
        # the worker's load counts its jobs (agent/livekit_worker.py): the harness sends
        # `jobs` at a time, plus room for a previous room's job while it ends
        max_jobs=opts.jobs + 1,
        num_idle_processes=min(opts.jobs, 4),
    )
    log.info(
        "livekit agent worker ready",
        extra={"agent_name": opts.agent_name, "health_port": agent.health_port},
    )
    return agent


async def run_cases(
    opts: RunOptions, cases: list[Case], progress: RunProgress | None = None
) -> SuiteRun:
    run_id = opts.run_id or new_run_id()
    run_dir = opts.output_root / run_id  # made by transport_stack, after the LiveKit check
    # never more slots (nor warm agent processes) than attempts to run at once
    opts = dataclasses.replace(opts, jobs=max(1, min(opts.jobs, len(cases) * opts.repeat)))
    progress = progress if progress is not None else RunProgress()
    progress.run_id, progress.run_dir = run_id, run_dir
    progress.transport_name = "livekit" if opts.livekit_url else "local"
    progress.t0 = t0 = time.monotonic()
    records = progress.records
    n_units = len(cases) * opts.repeat
    modules = (*BOT_MODULES, STRAY_MODULE) if opts.stray else BOT_MODULES
    bots = BotPool(modules, warm=opts.jobs, starts=n_units)
    async with contextlib.AsyncExitStack() as stack:
        await bots.start()  # they import while the stack starts
        stack.push_async_callback(bots.aclose)
        async with transport_stack(opts, run_dir) as (transport, url, supervisor):
            progress.startup_s = time.monotonic() - t0
            ctx = AttemptContext(
                transport=transport,
                transport_url=url,
                run_id=run_id,
                run_dir=run_dir,
                audio_dir=opts.cases_dir / "audio",
                pre_rtc_root=opts.pre_rtc_root.resolve(),
                agent_name=opts.agent_name,
                local_agent=opts.start_agent,
                room_prefix=opts.room_prefix,
                barrier_timeout_s=opts.barrier_timeout_s,
                blackbox=opts.blackbox,
                defect=opts.defect,
                stray=opts.stray,
                bots=bots,
                network=opts.network,
                model_figures=opts.listening or opts.heard_wer,
            )
            await _supervised(run_all(opts, ctx, cases, progress), supervisor, progress)
    ordered = in_case_order(records, cases)
    if opts.listening or opts.heard_wer:
        for why in skipped(opts.listening, opts.heard_wer):
            opts.echo(f"autortc: skipped {why}")
        rows = await quality_pass(
            [(r.row, r.pair, r.dir) for r in ordered],
            listening=opts.listening,
            heard=opts.heard_wer,
            echo=opts.echo,
        )
        ordered = [
            dataclasses.replace(r, row=row, pair=None) for r, row in zip(ordered, rows, strict=True)
        ]
    return SuiteRun(
        run_id=run_id,
        run_dir=run_dir,
        cases=cases,
        records=ordered,
        wall_s=time.monotonic() - t0,
        transport_name="livekit" if opts.livekit_url else "local",
        startup_s=progress.startup_s,
    )


async def _supervised(
    work: Coroutine[Any, Any, None], supervisor: Supervisor, progress: RunProgress
) -> None:
    """`work`, stopped within a poll if a process of the stack dies meanwhile (the
    bots under way get SIGTERM and keep what they recorded); that death, naming the
    attempts under way, is the one InfraError raised."""
    try:
        async with asyncio.TaskGroup() as tg:
            watch = tg.create_task(
                supervisor.watch(lambda: progress.current or "no attempt"),
                name="supervisor.watch",
            )
            await work
            watch.cancel()
    except* Exception as group:  # one failure at a time: the death, or the work's own
        first: BaseException = group
        while isinstance(first, BaseExceptionGroup):
            first = first.exceptions[0]
        if isinstance(first, InfraError) and (death := await supervisor.death_behind()):
            # the work hit the dead piece (a refused connection) before the watch saw it
            raise InfraError(f"{death} during {progress.current or 'no attempt'}") from None
        raise first from None


def env_livekit_url() -> str | None:
    return os.environ.get("LIVEKIT_URL") or None


def stderr(msg: str) -> None:
    print(msg, file=sys.stderr)
