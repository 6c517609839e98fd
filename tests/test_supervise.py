"""A process of the stack that dies is named in one sentence within a poll."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from autortc.errors import InfraError
from autortc.supervise import Supervisor


def test_the_first_dead_piece_is_named_with_how_it_ended() -> None:
    codes: dict[str, int | None] = {"server": None, "worker": None}
    sup = Supervisor()
    sup.add("the room server", lambda: codes["server"])
    sup.add("the agent worker", lambda: codes["worker"])
    assert sup.dead() is None
    codes["worker"] = -9
    assert sup.dead() == "the agent worker was killed by signal SIGKILL"
    codes["worker"], codes["server"] = None, 1
    assert sup.dead() == "the room server exited with code 1"


async def test_watch_raises_within_a_poll_of_the_death(virtual_clock) -> None:
    codes: list[int | None] = [None]
    sup = Supervisor()
    sup.add("the agent worker", lambda: codes[0])
    loop = asyncio.get_running_loop()

    async def die_later() -> None:
        await asyncio.sleep(3.0)
        codes[0] = -9

    t0 = loop.time()
    killer = asyncio.create_task(die_later())
    with pytest.raises(InfraError, match="worker was killed by signal SIGKILL during c a2"):
        await sup.watch("c a2", poll_s=0.25)
    await killer
    assert 3.0 <= loop.time() - t0 <= 3.25


async def test_supervised_work_raises_its_own_first_error_plainly(virtual_clock) -> None:
    from autortc.errors import TransportError
    from autortc.orchestrator import RunProgress, _supervised

    async def work() -> object:
        async with asyncio.TaskGroup() as tg:  # an error from deep inside a group
            tg.create_task(asyncio.sleep(0))
            raise TransportError("create_room failed: no agent worker registered")

    with pytest.raises(TransportError, match="create_room failed"):
        await _supervised(work(), Supervisor(), RunProgress())  # type: ignore[arg-type]


async def test_work_that_fails_on_a_piece_the_watch_has_not_seen_die_reports_the_death(
    virtual_clock,
) -> None:
    """The retry of an attempt can reach a dead room server (connection refused) before
    the watch's next poll, or before the dead process is reaped: the run names the death,
    not the refused connection."""
    from autortc.errors import TransportError
    from autortc.orchestrator import RunProgress, _supervised

    codes: list[int | None] = [None]
    sup = Supervisor()
    sup.add("the room server", lambda: codes[0])

    async def work() -> None:
        await asyncio.sleep(0.01)  # before the watch's first poll after the start
        asyncio.get_running_loop().call_later(0.2, codes.__setitem__, 0, -9)  # reaped later
        raise TransportError("cannot reach the local room server: connection refused")

    progress = RunProgress()
    progress.in_flight["case a2"] = Path("/tmp/case/a2")
    with pytest.raises(InfraError, match="room server was killed by signal SIGKILL during case a2"):
        await _supervised(work(), sup, progress)


async def test_an_infrastructure_error_with_every_piece_alive_stays_as_it_was(
    virtual_clock,
) -> None:
    from autortc.errors import TransportError
    from autortc.orchestrator import RunProgress, _supervised

    sup = Supervisor()
    sup.add("the room server", lambda: None)

    async def work() -> None:
        raise TransportError("create_room failed: no agent worker registered")

    loop = asyncio.get_running_loop()
    t0 = loop.time()
    with pytest.raises(TransportError, match="no agent worker"):
        await _supervised(work(), sup, RunProgress())
    assert loop.time() - t0 <= 1.05  # it waited the grace only
