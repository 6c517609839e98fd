"""The processes a run needs besides the bots: the local room server and the agent worker.

On the local transport both are started here and stopped in `aclose`. On
LiveKit the server is the user's; the reference agent's livekit-agents worker
(`LiveKitAgentWorkerProcess`) is started here unless the user runs their own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Self

from autortc.errors import InfraError
from autortc.procs import die_with_parent

log = logging.getLogger(__name__)

AGENT_READY_PREFIX = "AUTORTC_AGENT_READY"


class AgentWorkerProcess:
    """`python -m agent local ...`: the reference agent's long-running worker."""

    def __init__(self, proc: asyncio.subprocess.Process, log_path: Path) -> None:
        self._proc = proc
        self._log_path = log_path
        self._drain: asyncio.Task[None] | None = None
        self.ready_line = ""

    stop_timeout_s = 5.0  # SIGTERM -> SIGKILL
    new_session = False  # own process group (killed as a whole if it hangs)

    @classmethod
    async def start(
        cls,
        *,
        url: str,
        agent_name: str,
        pre_rtc_dir: Path,
        log_path: Path,
        extra_args: list[str] | None = None,
        ready_timeout_s: float = 60.0,
        job_processes: int = 0,
    ) -> AgentWorkerProcess:
        """`job_processes` > 0: each job in a process of its own, that many kept warm."""
        args = [
            sys.executable,
            "-m",
            "agent",
            "local",
            "--url",
            url,
            "--agent-name",
            agent_name,
            "--pre-rtc-dir",
            str(pre_rtc_dir),
            *(["--job-processes", str(job_processes)] if job_processes > 0 else []),
            *(extra_args or []),
        ]
        # warming each job process (imports, VAD, espeak) is a few CPU seconds
        ready_s = ready_timeout_s + 10.0 * max(0, job_processes)
        return await cls._launch(args, log_path=log_path, ready_timeout_s=ready_s)

    @classmethod
    async def _launch(
        cls,
        args: list[str],
        *,
        log_path: Path,
        ready_timeout_s: float,
        env: dict[str, str] | None = None,
    ) -> Self:
        """Start the worker and wait for its `AUTORTC_AGENT_READY` line (kept as `ready_line`)."""
        log_path.parent.mkdir(parents=True, exist_ok=True)
        proc = await asyncio.create_subprocess_exec(
            *args,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env={**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1"},
            start_new_session=cls.new_session,
            preexec_fn=die_with_parent,
        )
        self = cls(proc, log_path)
        fh = log_path.open("ab")
        try:
            async with asyncio.timeout(ready_timeout_s):
                while True:
                    assert proc.stdout is not None
                    line = await proc.stdout.readline()
                    if not line:
                        raise InfraError(
                            f"the agent worker exited before it was ready; see {log_path}"
                        )
                    fh.write(line)
                    if line.decode(errors="replace").startswith(AGENT_READY_PREFIX):
                        self.ready_line = line.decode(errors="replace").strip()
                        break
        except TimeoutError:
            fh.close()
            await self.aclose()
            raise InfraError(
                f"the agent worker was not ready within {ready_timeout_s:.0f} s; see {log_path}"
            ) from None
        except BaseException:
            fh.close()
            await self.aclose()
            raise
        self._drain = asyncio.create_task(self._drain_output(fh), name="agent.log_drain")
        return self

    async def _drain_output(self, fh: object) -> None:
        assert self._proc.stdout is not None
        try:
            while line := await self._proc.stdout.readline():
                fh.write(line)  # type: ignore[attr-defined]
                fh.flush()  # type: ignore[attr-defined]
        finally:
            fh.close()  # type: ignore[attr-defined]

    @property
    def alive(self) -> bool:
        return self._proc.returncode is None

    def returncode(self) -> int | None:
        return self._proc.returncode

    async def aclose(self) -> None:
        if self._proc.returncode is None:
            self._proc.terminate()
            try:
                async with asyncio.timeout(self.stop_timeout_s):
                    await self._proc.wait()
            except TimeoutError:
                self._kill()
                await self._proc.wait()
        if self._drain is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                async with asyncio.timeout(2):
                    await self._drain

    def _kill(self) -> None:
        if self.new_session:  # its job processes are in the group it leads
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._proc.pid, signal.SIGKILL)
        else:
            self._proc.kill()


class LiveKitAgentWorkerProcess(AgentWorkerProcess):
    """`python -m agent livekit start ...`: the reference agent as a livekit-agents worker.

    Credentials reach it through the environment (LIVEKIT_URL is set to the run's
    URL), never through its command line. Its health server listens on loopback on
    a free port (`health_port`, read from the ready line). It is ready when the
    LiveKit server has accepted its registration, about 3 s after start. On
    `aclose` it drains (its rooms are gone by then) and stops; a hung worker is
    killed with its job processes.
    """

    # SIGTERM -> SIGKILL. With a job still running, livekit-agents drains (10 s), waits
    # for the entrypoint (up to 15 s) and for the job process (10 s) before it exits.
    stop_timeout_s = 35.0
    new_session = True

    @classmethod
    async def start(  # type: ignore[override]
        cls,
        *,
        livekit_url: str,
        agent_name: str,
        pre_rtc_dir: Path,
        log_path: Path,
        extra_args: list[str] | None = None,
        health_port: int = 0,
        num_idle_processes: int = 1,
        max_jobs: int = 4,
        ready_timeout_s: float = 60.0,
    ) -> LiveKitAgentWorkerProcess:
        args = livekit_worker_args(
            agent_name=agent_name,
            pre_rtc_dir=pre_rtc_dir,
            extra_args=extra_args,
            health_port=health_port,
            num_idle_processes=num_idle_processes,
            max_jobs=max_jobs,
        )
        return await cls._launch(
            args,
            log_path=log_path,
            ready_timeout_s=ready_timeout_s,
            env={"LIVEKIT_URL": livekit_url},
        )

    @property
    def health_port(self) -> int | None:
        for part in self.ready_line.split():
            if part.startswith("health_port="):
                return int(part.split("=", 1)[1])
        return None


def livekit_worker_args(
    *,
    agent_name: str,
    pre_rtc_dir: Path,
    extra_args: list[str] | None = None,
    health_port: int = 0,
    num_idle_processes: int = 1,
    max_jobs: int = 4,
) -> list[str]:
    """The worker's command line (no credential is ever on it)."""
    return [
        sys.executable,
        "-m",
        "agent",
        "livekit",
        "start",
        "--agent-name",
        agent_name,
        "--pre-rtc-dir",
        str(pre_rtc_dir),
        "--health-port",
        str(health_port),
        "--num-idle-processes",
        str(num_idle_processes),
        "--max-jobs",
        str(max_jobs),
        *(extra_args or []),
    ]
