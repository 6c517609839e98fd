"""Bot processes: started warm, ahead of their attempt, and run to a deadline.

A bot is a process of its own (`python -m autortc.bots.<bot>`), whose imports (numpy,
pydantic, the transport) cost about half a second of CPU, more on a busy machine:
paid when an attempt starts, it would sit between two attempts of a slot, inside the
run's wall time. So a run keeps a few bot processes warm (`BotPool`): each is started
with `--warm`, imports everything, and waits on its stdin for one line, `JOB\\tLOG`
(its bot_job.json and the log its stdout and stderr go to). It is still the harness's
own child: the harness waits for its exit code, kills it at its deadline, and it dies
with the harness (PR_SET_PDEATHSIG). A taken process is replaced at once, while the
attempt runs, as long as attempts remain to start; one that died while it waited is
dropped, and an attempt that finds none warm starts one cold.

`run_bot_process` runs one bot to its end and writes `<bot>.pid` in the attempt
directory (which process is which attempt's bot, for `autortc chaos` and the tests).
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Sequence
from pathlib import Path

from autortc.bots.jobspec import WARM_ARG
from autortc.procs import die_with_parent

BOT_FLUSH_S = 2.0  # a stopped bot's time to write its results after SIGTERM
BOT_MODULES = ("autortc.bots.probe_bot", "autortc.bots.user_bot")
STRAY_MODULE = "autortc.bots.stray_bot"
IDLE_STOP_S = 1.0  # an idle warm bot's time to end after SIGTERM


def pid_file(att_dir: Path, module: str) -> Path:
    """`<att_dir>/probe_bot.pid` for `autortc.bots.probe_bot`."""
    return att_dir / f"{module.rsplit('.', 1)[-1]}.pid"


async def _spawn_warm(module: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        module,
        WARM_ARG,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,  # until its job names its log
        preexec_fn=die_with_parent,
    )


class BotPool:
    """`warm` processes of each bot module, kept warm for `starts` takes in all."""

    def __init__(self, modules: Sequence[str], *, warm: int, starts: int) -> None:
        self._modules = tuple(modules)
        self._warm = max(0, warm)
        self._left = {m: max(0, starts) for m in self._modules}
        self._idle: dict[str, list[asyncio.subprocess.Process]] = {m: [] for m in self._modules}
        self._closed = False

    async def start(self) -> None:
        for m in self._modules:
            for _ in range(min(self._warm, self._left[m])):
                self._idle[m].append(await _spawn_warm(m))

    def spares(self, module: str) -> list[asyncio.subprocess.Process]:
        """The warm processes of `module` waiting for a job."""
        return list(self._idle.get(module, []))

    async def take(
        self, module: str, job_path: Path, log_path: Path
    ) -> asyncio.subprocess.Process | None:
        """A warm process of `module`, given its job; None when none could take it."""
        if self._closed or module not in self._idle:
            return None
        self._left[module] = max(0, self._left[module] - 1)
        idle = self._idle[module]
        while idle:
            proc = idle.pop(0)
            if proc.returncode is not None or proc.stdin is None:
                continue
            try:
                proc.stdin.write(f"{job_path}\t{log_path}\n".encode())
                await proc.stdin.drain()
                proc.stdin.close()
            except (BrokenPipeError, ConnectionResetError):
                continue  # it died while it waited
            if self._left[module] > len(idle):
                idle.append(await _spawn_warm(module))
            return proc
        return None

    async def aclose(self) -> None:
        """End every idle process (it holds nothing yet: SIGTERM, then SIGKILL)."""
        self._closed = True
        procs = [p for ps in self._idle.values() for p in ps]
        for ps in self._idle.values():
            ps.clear()
        for p in procs:
            with contextlib.suppress(ProcessLookupError):
                p.terminate()
        await asyncio.gather(*(_end(p, IDLE_STOP_S) for p in procs))


async def _end(proc: asyncio.subprocess.Process, wait_s: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(proc.wait(), wait_s)
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()


async def _spawn_cold(module: str, job_path: Path, log_fh: object) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        module,
        str(job_path),
        stdout=log_fh,  # type: ignore[arg-type]
        stderr=asyncio.subprocess.STDOUT,
        preexec_fn=die_with_parent,
    )


async def run_bot_process(
    module: str,
    job_path: Path,
    log_path: Path,
    timeout_s: float,
    pool: BotPool | None = None,
) -> int | None:
    """Run a bot to its end; its exit code, or None when it had to be killed."""
    proc = await pool.take(module, job_path, log_path) if pool is not None else None
    with contextlib.ExitStack() as stack:
        if proc is None:
            proc = await _spawn_cold(module, job_path, stack.enter_context(log_path.open("wb")))
        pid_file(job_path.parent, module).write_text(f"{proc.pid}\n")
        try:
            async with asyncio.timeout(timeout_s):
                return await proc.wait()
        except TimeoutError:
            proc.kill()
            await proc.wait()
            return None
        finally:
            if proc.returncode is None:
                # the run is being stopped (a signal, an error): SIGTERM first, so the
                # bot writes what it has recorded, then SIGKILL if it does not end
                with contextlib.suppress(ProcessLookupError):
                    proc.terminate()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(proc.wait(), BOT_FLUSH_S)
            if proc.returncode is None:
                proc.kill()
                with contextlib.suppress(ProcessLookupError):
                    await proc.wait()
