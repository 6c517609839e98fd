"""Run the embedded local room server as a child process.

    with start_local_server_process() as server:
        transport = LocalTransport(server.url)

The child is `python -m autortc.transport.local_server --port 0`; its first
stdout line `AUTORTC_LOCAL_URL=local://HOST:PORT` gives the URL. Its stderr is
inherited (or written to `log_path`). The child exits by itself if this process
dies without stopping it (`--parent-pid`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import IO

from autortc.errors import InfraError
from autortc.procs import die_with_parent

logger = logging.getLogger(__name__)

URL_PREFIX = "AUTORTC_LOCAL_URL="
_PACKAGE_ROOT = Path(__file__).resolve().parents[2]


class LocalServerProcess:
    """A running local room server child process. `stop()` is idempotent."""

    def __init__(self, proc: subprocess.Popen[bytes], url: str, log_file: IO[bytes] | None) -> None:
        self.proc = proc
        self.url = url
        self._log_file = log_file

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self, timeout_s: float = 5.0) -> None:
        try:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(timeout=timeout_s)
                except subprocess.TimeoutExpired:
                    logger.warning("local server ignored SIGTERM: killing it")
                    self.proc.kill()
                    self.proc.wait(timeout=timeout_s)
        finally:
            if self.proc.stdout is not None:
                self.proc.stdout.close()
            if self._log_file is not None:
                self._log_file.close()
                self._log_file = None

    def __enter__(self) -> LocalServerProcess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def start_local_server_process(
    timeout_s: float = 10.0,
    *,
    host: str = "127.0.0.1",
    log_path: str | Path | None = None,
    log_level: str = "WARNING",
) -> LocalServerProcess:
    """Spawn the server and wait for its URL line. Raises InfraError if it does not come up."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(_PACKAGE_ROOT), env.get("PYTHONPATH", "")) if p
    )
    env["PYTHONUNBUFFERED"] = "1"
    log_file = open(log_path, "ab") if log_path is not None else None  # noqa: SIM115
    cmd = [sys.executable, "-m", "autortc.transport.local_server", "--host", host, "--port", "0"]
    cmd += ["--log-level", log_level, "--parent-pid", str(os.getpid())]
    try:
        proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=log_file, env=env, preexec_fn=die_with_parent
        )
    except OSError as e:
        if log_file is not None:
            log_file.close()
        raise InfraError(f"could not start the local room server ({cmd[0]}): {e}") from e
    assert proc.stdout is not None
    server = LocalServerProcess(proc, "", log_file)
    try:
        server.url = _read_url(proc, proc.stdout, timeout_s)
    except BaseException:
        server.stop()
        raise
    logger.info("local room server started", extra={"url": server.url, "pid": proc.pid})
    return server


def _read_url(proc: subprocess.Popen[bytes], stdout: IO[bytes], timeout_s: float) -> str:
    deadline = time.monotonic() + timeout_s
    buf = b""
    with selectors.DefaultSelector() as sel:
        sel.register(stdout, selectors.EVENT_READ)
        while b"\n" not in buf:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise InfraError(
                    f"the local room server did not print its URL within {timeout_s:g} s"
                )
            if not sel.select(timeout=remaining):
                continue
            chunk = os.read(stdout.fileno(), 4096)
            if not chunk:
                code = proc.poll()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    code = proc.wait(timeout=1.0)
                raise InfraError(
                    f"the local room server exited (code {code}) before printing its URL; "
                    "see its stderr above"
                )
            buf += chunk
    line = buf.split(b"\n", 1)[0].decode("utf-8", "replace").strip()
    if not line.startswith(URL_PREFIX):
        raise InfraError(f"the local room server printed an unexpected first line: {line!r}")
    return line[len(URL_PREFIX) :]
