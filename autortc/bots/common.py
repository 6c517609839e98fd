"""What both bots share: the process entry, the message pump and result writing."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import os
import signal
import sys
import traceback
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any, NoReturn

from pydantic import BaseModel

from autortc.bots.jobspec import WARM_ARG, BotJob
from autortc.bots.results import BotCrash, EventRecord
from autortc.bots.rules import StopRule
from autortc.clock import Clock
from autortc.gc_pauses import guard_real_time_process
from autortc.protocol import Message, MessageFilter
from autortc.transport.base import RoomConnection

log = logging.getLogger(__name__)

MessageHandler = Callable[[Message, str, int], None]
ROOM_POLL_S = 0.1
BOT_EXIT_INFRA = 3  # the bot ended on an infrastructure outcome (barrier timeout, no agent,
# room gone, stopped by SIGTERM), its results written


class RoomGone(Exception):
    """The bot's room was deleted or its connection lost: end with what it has."""


async def watch_room(conn: RoomConnection, poll_s: float = ROOM_POLL_S) -> None:
    """Raise RoomGone within `poll_s` of the connection closing under us (the room was
    deleted, the server went away). Run it beside the bot's work in its TaskGroup, and
    cancel it before the bot leaves on its own."""
    while not conn.closed:  # noqa: ASYNC110 - the seam's one signal is the flag
        await asyncio.sleep(poll_s)
    raise RoomGone


async def pump_messages(
    conn: RoomConnection,
    flt: MessageFilter,
    handler: MessageHandler,
    *,
    log_path: Path | None = None,
) -> None:
    """Feed every accepted message to `handler(msg, topic, recv_t_ns)`; log it as JSONL."""
    fh = log_path.open("a") if log_path is not None else None
    try:
        async for dm in conn.messages():
            msg = flt.accept(
                dm.topic, dm.payload, sender=dm.sender, sender_is_agent=conn.is_agent(dm.sender)
            )
            if fh is not None:
                rec = EventRecord(
                    recv_t_ns=dm.recv_t_ns,
                    topic=dm.topic,
                    sender=dm.sender,
                    accepted=msg is not None,
                    msg=msg,
                    raw=None if msg is not None else dm.payload[:200].decode("utf-8", "replace"),
                )
                fh.write(rec.model_dump_json(exclude_none=True) + "\n")
                fh.flush()
            if msg is not None:
                handler(msg, dm.topic, dm.recv_t_ns)
    finally:
        if fh is not None:
            fh.close()


async def wait_stop(stop: StopRule, wake: asyncio.Event, clock: Clock) -> None:
    """Stay in the room until the stop rule's deadline; it moves as messages arrive
    (`wake` is set on each), and there is none while a reply is open (without a hard
    deadline the wait then lasts until a message makes one)."""
    while True:
        deadline = stop.deadline_ns()
        wake.clear()
        if deadline is None:
            await wake.wait()
            continue
        remaining_s = (deadline - clock.now_ns()) / 1e9
        if remaining_s <= 0:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(remaining_s):
                await wake.wait()


async def stay_until(
    stop: StopRule, wake: asyncio.Event, clock: Clock, other_left: Awaitable[None], *, bot: str
) -> None:
    """Stay until the stop rule says so or the other bot has left, whichever is first."""
    waiters = [
        asyncio.create_task(wait_stop(stop, wake, clock), name=f"{bot}.stop_rule"),
        asyncio.ensure_future(other_left),
    ]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()
        await asyncio.gather(*waiters, return_exceptions=True)


def write_json(path: Path, body: BaseModel) -> None:
    """Write a result model atomically (a reader never sees half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(body.model_dump_json(indent=1))
    tmp.replace(path)


def bot_main(name: str, run: Callable[[BotJob], Coroutine[Any, Any, int]]) -> None:
    """Process entry: `python -m autortc.bots.<bot> JOB.json`. Exit 0 ok, 3 infra, 4 crash."""
    logging.basicConfig(
        level=logging.WARNING, format=f"[{name}] %(levelname)s %(name)s: %(message)s"
    )
    if len(sys.argv) != 2:
        print(f"usage: python -m autortc.bots.{name} JOB.json | --warm", file=sys.stderr)
        sys.exit(2)
    job_path = _wait_for_job() if sys.argv[1] == WARM_ARG else sys.argv[1]
    job = BotJob.read(job_path)
    guard_real_time_process()  # a GC pause would stamp the frames that arrive in it late
    try:
        code: int = asyncio.run(_until_sigterm(run, job))
    except asyncio.CancelledError:  # SIGTERM: the bot's `finally` wrote its results
        print(f"{name}: stopped by SIGTERM after writing its results", file=sys.stderr)
        end_process(BOT_EXIT_INFRA)
    except Exception as e:  # a crash must still leave a trace on disk
        crash = BotCrash(error=f"{type(e).__name__}: {e}", traceback=traceback.format_exc())
        write_json(Path(job.out_dir) / f"{name}_crash.json", crash)
        print(f"{name} crashed: {type(e).__name__}: {e}", file=sys.stderr)
        end_process(4)
    end_process(code)


def _wait_for_job() -> str:
    """Warm (autortc/bot_pool.py): imports done, wait for `JOB\tLOG` on stdin, then
    send stdout and stderr to LOG. End quietly when stdin closes first."""
    importlib.import_module("autortc.transport.local")  # what connecting imports
    if os.environ.get("LIVEKIT_URL"):
        importlib.import_module("autortc.transport.livekit")

    line = sys.stdin.readline()
    if not line.strip():
        end_process(0)
    job_path, _, log_path = line.rstrip("\n").partition("\t")
    sys.stdout.flush()
    sys.stderr.flush()
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    return job_path


async def _until_sigterm(run: Callable[[BotJob], Coroutine[Any, Any, int]], job: BotJob) -> int:
    """Run the bot; SIGTERM cancels it, so every `finally` writes what it has (the
    harness sends SIGTERM when a run is stopped, and SIGKILL only if that hangs)."""
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    return await run(job)


def end_process(code: int) -> NoReturn:
    """Exit without finalizing the interpreter (everything the bot keeps is on disk).

    The livekit FFI's tokio threads may still be delivering events (audio frames of a
    stream, logs) through its ctypes callback when the bot returns. While CPython 3.11
    finalizes, a foreign thread that asks for the GIL is ended with `pthread_exit`, whose
    forced unwind through Rust's `extern "C"` frames aborts the process: "panic in a
    function that cannot unwind ... thread caused non-unwinding panic. aborting." That
    is the teardown abort seen on a real LiveKit server after `probe_result.json` was
    written; `tests/livekit_offline/test_bot_exit_ffi.py` reproduces it offline.
    """
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)
