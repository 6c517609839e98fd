"""Job processes for the local worker: jobs in processes of their own (as livekit-agents
runs its jobs), so that several rooms at once (`autortc run --jobs N`) do not share one
interpreter's lock and event loop.

    python -m agent local --url local://... --job-processes 4

The worker starts N processes (`python -m agent local-job ...`) before it registers,
and waits until each has loaded its engines (VAD, espeak) and printed `JOB_READY`, so
no process starts while a room is being measured. Each process then serves jobs one
at a time: a job is a JSON line on its stdin, and it prints `JOB_DONE <job_id>` when
the job has ended. A job goes to a free process; if none is free (a previous job still
ending), one more process is started. The processes die with the worker
(PR_SET_PDEATHSIG). On the worker's stop their stdin is closed (an idle one ends at
once), then they get SIGTERM (a running job's `finally` writes pre_rtc) and are killed
after `STOP_S`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
from dataclasses import asdict

from autortc.procs import die_with_parent
from autortc.transport.local_worker import JobRequest

logger = logging.getLogger(__name__)

JOB_READY = "JOB_READY"
JOB_DONE = "JOB_DONE"
STOP_S = 5.0
READY_TIMEOUT_S = 120.0


class _JobProcess:
    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.done: asyncio.Queue[str] = asyncio.Queue()
        self.ready = asyncio.Event()
        self.reader = asyncio.create_task(self._read(), name="job-process.stdout")

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        async for raw in self.proc.stdout:
            line = raw.decode(errors="replace").strip()
            if line == JOB_READY:
                self.ready.set()
            elif line.startswith(JOB_DONE):
                await self.done.put(line.removeprefix(JOB_DONE).strip())
        self.ready.set()  # ended: nobody waits on it forever
        await self.done.put("")


class JobProcessPool:
    def __init__(self, job_argv: list[str], *, size: int) -> None:
        """`job_argv`: the arguments after `python -m agent local-job`."""
        self._argv = [sys.executable, "-m", "agent", "local-job", *job_argv]
        self._size = max(1, size)
        self._free: list[_JobProcess] = []
        self._all: list[_JobProcess] = []

    async def _spawn(self) -> _JobProcess:
        proc = await asyncio.create_subprocess_exec(
            *self._argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            preexec_fn=die_with_parent,
        )
        jp = _JobProcess(proc)
        self._all.append(jp)
        return jp

    async def start(self) -> None:
        """Start the processes and wait until every one is warm."""
        started = [await self._spawn() for _ in range(self._size)]
        async with asyncio.timeout(READY_TIMEOUT_S):
            await asyncio.gather(*(jp.ready.wait() for jp in started))
        self._free = [jp for jp in started if jp.proc.returncode is None]
        logger.info("job processes warm", extra={"n": len(self._free)})

    async def run(self, job: JobRequest) -> None:
        """Serve `job` in a free process (a new one if none is free) until it ends."""
        self._free = [jp for jp in self._free if jp.proc.returncode is None]
        jp = self._free.pop(0) if self._free else await self._spawn()
        try:
            assert jp.proc.stdin is not None
            jp.proc.stdin.write((json.dumps(asdict(job)) + "\n").encode())
            await jp.proc.stdin.drain()
            while (done := await jp.done.get()) != job.job_id:
                if done == "":  # the process ended mid-job
                    logger.warning("job process ended", extra={"job_id": job.job_id})
                    return
        except (BrokenPipeError, ConnectionResetError):
            logger.warning("job process gone", extra={"job_id": job.job_id})
            return
        if jp.proc.returncode is None:
            self._free.append(jp)

    async def aclose(self) -> None:
        procs, self._all, self._free = self._all, [], []
        await asyncio.gather(*(_stop(jp) for jp in procs))


async def _stop(jp: _JobProcess) -> None:
    """Close its stdin (an idle process ends at once), then SIGTERM, then SIGKILL."""
    proc = jp.proc
    if proc.stdin is not None:
        with contextlib.suppress(OSError):
            proc.stdin.close()
    if proc.returncode is None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(proc.wait(), 1.0)
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), STOP_S)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
    jp.reader.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await jp.reader


def parse_job(line: str) -> JobRequest:
    body = json.loads(line)
    return JobRequest(**{k: str(body[k]) for k in ("room", "metadata", "agent_name", "job_id")})
