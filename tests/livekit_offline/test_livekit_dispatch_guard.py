"""The dispatch guard (autortc/transport/livekit_dispatch.py) against a fake server
that refuses dispatches the way livekit-server does when no worker is available: the
dispatch exists, with no job, and nobody joins."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import pytest

from autortc.transport.livekit_dispatch import DispatchGuard, dispatch_step


@pytest.mark.parametrize(
    ("present", "exists", "jobs", "waited_s", "expected"),
    [
        (True, True, 0, 9.0, "done"),  # the agent is in the room
        (False, False, 0, 9.0, "done"),  # the dispatch (or room) is gone
        (False, True, 1, 9.0, "wait"),  # a job was assigned: the agent is on its way
        (False, True, 0, 1.0, "wait"),  # too early to call it refused
        (False, True, 0, 2.0, "redispatch"),
    ],
)
def test_dispatch_step(
    present: bool, exists: bool, jobs: int, waited_s: float, expected: str
) -> None:
    step = dispatch_step(
        agent_present=present, dispatch_exists=exists, jobs=jobs, waited_s=waited_s
    )
    assert step == expected


@dataclass
class FakeServer:
    """Rooms with dispatches; a dispatch is refused until `workers_from` dispatches
    have been made (a worker that reports WS_FULL, then WS_AVAILABLE)."""

    workers_from: int
    room_exists: bool = True
    made: int = 0
    dispatches: dict[str, int] = field(default_factory=dict)  # id -> jobs
    agent_joined: bool = False
    deleted: list[str] = field(default_factory=list)

    def dispatch(self) -> str:
        self.made += 1
        dispatch_id = f"AD_{self.made}"
        assigned = self.made >= self.workers_from
        self.dispatches[dispatch_id] = 1 if assigned else 0
        self.agent_joined = assigned
        return dispatch_id

    async def agent_in_room(self, room: str) -> bool | None:
        return self.agent_joined if self.room_exists else None

    async def dispatch_jobs(self, room: str, dispatch_id: str) -> int | None:
        return self.dispatches.get(dispatch_id)

    async def create_dispatch(self, room: str, *, agent_name: str, metadata: str) -> str:
        return self.dispatch()

    async def delete_dispatch(self, room: str, dispatch_id: str) -> None:
        self.deleted.append(dispatch_id)
        self.dispatches.pop(dispatch_id, None)


def _guard(server: FakeServer, **kw: float) -> DispatchGuard:
    first = server.dispatch()
    return DispatchGuard(
        server, "room-1", "autortc-ref", "{}", first, poll_s=0.5, redispatch_after_s=2.0, **kw
    )  # type: ignore[arg-type]


async def test_a_refused_dispatch_is_sent_again_until_a_worker_takes_it(virtual_clock) -> None:  # type: ignore[no-untyped-def]
    server = FakeServer(workers_from=3)
    guard = _guard(server)
    t0 = virtual_clock.now_s
    async with asyncio.timeout(60.0):
        await guard.run()
    assert guard.redispatches == 2
    assert server.deleted == ["AD_1", "AD_2"]  # each refused dispatch removed first
    assert server.agent_joined
    assert guard.dispatch_id == "AD_3"
    assert virtual_clock.now_s - t0 == pytest.approx(2 * 2.0 + 0.5, abs=0.6)  # ~2 s per retry


async def test_a_dispatch_that_goes_through_is_never_sent_twice(virtual_clock) -> None:  # type: ignore[no-untyped-def]
    server = FakeServer(workers_from=1)
    guard = _guard(server)
    async with asyncio.timeout(60.0):
        await guard.run()
    assert guard.redispatches == 0
    assert server.made == 1
    assert server.deleted == []


async def test_a_deleted_room_ends_the_guard(virtual_clock) -> None:  # type: ignore[no-untyped-def]
    server = FakeServer(workers_from=99, room_exists=False)
    guard = _guard(server)
    async with asyncio.timeout(60.0):
        await guard.run()
    assert guard.redispatches == 0


async def test_the_guard_gives_up_after_max_redispatches(virtual_clock) -> None:  # type: ignore[no-untyped-def]
    server = FakeServer(workers_from=99)
    guard = _guard(server, max_redispatches=3)
    async with asyncio.timeout(60.0):
        await guard.run()
    assert guard.redispatches == 4
    assert not server.agent_joined
