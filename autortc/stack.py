"""The processes a run needs besides the bots: the local room server and the agent worker.

On the local transport both are started here and stopped in `aclose`. On
LiveKit the server is the user's and the agent worker is usually theirs too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
from pathlib import Path

from autortc.errors import InfraError

log = logging.getLogger(__name__)

AGENT_READY_PREFIX = "AUTORTC_AGENT_READY"


class AgentWorkerProcess:
    """`python -m agent local ...`: the reference agent's long-running worker."""

    def __init__(self, proc: asyncio.subprocess.Process, log_path: Path) -> None:
        self._proc = proc
        self._log_path = log_path
        self._drain: asyncio.Task[None] | None = None

    @classmethod
    async def start(
        cls, *, url: str, agent_name: str, pre_rtc_dir: Path, log_path: Path,
        extra_args: list[str] | None = None, ready_timeout_s: float = 60.0,
    ) -> AgentWorkerProcess:
        args = [sys.executable, "-m", "agent", "local", "--url", url, "--agent-name", agent_name,
                "--pre-rtc-dir", str(pre_rtc_dir), *(extra_args or [])]
        log_path.parent.mkdir(parents=True, exist_ok=True)
        proc = await asyncio.create_subprocess_exec(
            *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self = cls(proc, log_path)
        fh = log_path.open("ab")
        try:
            async with asyncio.timeout(ready_timeout_s):
                while True:
                    assert proc.stdout is not None
                    line = await proc.stdout.readline()
                    if not line:
                        raise InfraError(f"the agent worker exited before it was ready; see {log_path}")
                    fh.write(line)
                    if line.decode(errors="replace").startswith(AGENT_READY_PREFIX):
                        break
        except TimeoutError:
            fh.close()
            await self.aclose()
            raise InfraError(f"the agent worker was not ready within {ready_timeout_s:.0f} s; see {log_path}") from None
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

    async def aclose(self) -> None:
        if self._proc.returncode is None:
            self._proc.terminate()
            try:
                async with asyncio.timeout(5):
                    await self._proc.wait()
            except TimeoutError:
                self._proc.kill()
                await self._proc.wait()
        if self._drain is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                async with asyncio.timeout(2):
                    await self._drain
