"""A process of the stack that dies is named in one sentence within a poll."""

from __future__ import annotations

import asyncio

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
