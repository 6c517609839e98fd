"""agent/gpu_lanes.py: a fast lane preempting a slow lane on one engine, in virtual time."""

from __future__ import annotations

import asyncio

import pytest

from agent.gpu_lanes import GpuLanes, SlowLease

MS = 1_000_000  # ns


class _TestClock:
    """The loop's (virtual) time since the test began, in ns rounded to the µs: the float
    sums of virtual sleeps then give exact stamps (10 ms reads 10_000_000)."""

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._t0 = self._loop.time()

    def now_ns(self) -> int:
        return round((self._loop.time() - self._t0) * 1e6) * 1000


def _lanes() -> tuple[GpuLanes, _TestClock]:
    clock = _TestClock()
    return GpuLanes(clock), clock


async def _slow_work(lease: SlowLease, steps: int, step_s: float, done: list[int]) -> None:
    """Step-wise slow work: checks its preemption token between steps and yields."""
    async with lease:
        for i in range(steps):
            if lease.preempted.is_set():
                return
            await asyncio.sleep(step_s)
            done.append(i)


async def _fast_work(
    lanes: GpuLanes, name: str, *, at_s: float, hold_s: float, granted: list[str]
) -> None:
    await asyncio.sleep(at_s)
    async with lanes.fast(name):
        granted.append(name)
        await asyncio.sleep(hold_s)


async def test_a_slow_lease_is_granted_at_once_when_the_engine_is_idle(virtual_clock):
    lanes, _ = _lanes()
    lease = lanes.try_slow("embed")
    assert isinstance(lease, SlowLease)
    assert lanes.holder is lease
    assert not lease.preempted.is_set()
    async with lease:
        await asyncio.sleep(0.020)
    assert lanes.holder is None
    assert (lanes.slow_grants, lanes.slow_refusals, lanes.preemptions) == (1, 0, 0)
    assert lanes.log == [
        (0, "slow", "embed", "granted"),
        (20 * MS, "slow", "embed", "released"),
    ]


async def test_a_fast_request_on_an_idle_engine_is_granted_at_once_without_preempting(
    virtual_clock,
):
    lanes, _ = _lanes()
    async with lanes.fast("reply") as lease:
        assert lanes.holder is lease
        await asyncio.sleep(0.005)
    assert lanes.holder is None
    assert (lanes.fast_grants, lanes.preemptions) == (1, 0)
    assert lanes.log == [(0, "fast", "reply", "granted"), (5 * MS, "fast", "reply", "released")]


async def test_fast_lane_preempts_a_slow_holder_which_yields_at_its_next_step_then_fast_runs(
    virtual_clock,
):
    lanes, clock = _lanes()
    lease = lanes.try_slow("embed")
    assert lease is not None
    done: list[int] = []
    granted: list[str] = []
    granted_at: list[int] = []

    async def fast() -> None:
        await asyncio.sleep(0.025)  # mid-way through the slow work's third 10 ms step
        async with lanes.fast("reply"):
            granted_at.append(clock.now_ns())
            granted.append("reply")
            await asyncio.sleep(0.005)

    async with asyncio.timeout(1), asyncio.TaskGroup() as tg:
        tg.create_task(_slow_work(lease, steps=10, step_s=0.010, done=done))
        tg.create_task(fast())

    assert lease.preempted.is_set()
    assert done == [0, 1, 2]  # it finished the step it was in, then yielded
    assert granted_at == [30 * MS]  # the engine passed to the fast lane right then
    assert (lanes.preemptions, lanes.fast_grants, lanes.slow_grants) == (1, 1, 1)
    assert lanes.log == [
        (0, "slow", "embed", "granted"),
        (25 * MS, "fast", "reply", "queued"),
        (25 * MS, "slow", "embed", "preempted"),
        (30 * MS, "slow", "embed", "released"),
        (30 * MS, "fast", "reply", "granted"),
        (35 * MS, "fast", "reply", "released"),
    ]
    assert lanes.holder is None


async def test_try_slow_is_refused_while_a_fast_holder_has_the_engine(virtual_clock):
    lanes, _ = _lanes()
    async with lanes.fast("reply"):
        await asyncio.sleep(0.003)
        assert lanes.try_slow("embed") is None
        assert lanes.try_slow("embed") is None
    assert lanes.slow_refusals == 2
    assert lanes.slow_grants == 0
    assert (3 * MS, "slow", "embed", "refused") in lanes.log
    assert lanes.try_slow("embed") is not None  # idle again: granted


async def test_try_slow_is_refused_while_fast_waiters_queue_and_the_engine_goes_to_them_first(
    virtual_clock,
):
    lanes, clock = _lanes()
    lease = lanes.try_slow("embed")
    assert lease is not None
    done: list[int] = []
    granted: list[str] = []
    slow_tries: list[tuple[int, bool]] = []

    async def try_slow_at(at_s: float) -> None:
        await asyncio.sleep(at_s)
        retry = lanes.try_slow("index")
        slow_tries.append((clock.now_ns(), retry is not None))
        if retry is not None:
            retry.release()

    async with asyncio.timeout(1), asyncio.TaskGroup() as tg:
        tg.create_task(_slow_work(lease, steps=10, step_s=0.010, done=done))
        tg.create_task(_fast_work(lanes, "a", at_s=0.012, hold_s=0.010, granted=granted))
        tg.create_task(_fast_work(lanes, "b", at_s=0.015, hold_s=0.010, granted=granted))
        tg.create_task(try_slow_at(0.016))  # slow holder preempted, two fast waiters
        tg.create_task(try_slow_at(0.025))  # fast "a" holds, "b" queued
        tg.create_task(try_slow_at(0.045))  # all done: idle

    assert done == [0, 1]
    assert granted == ["a", "b"]
    assert slow_tries == [(16 * MS, False), (25 * MS, False), (45 * MS, True)]
    assert lanes.preemptions == 1  # one token per slow lease, however many fast waiters
    assert lanes.slow_refusals == 2
    assert [e for e in lanes.log if e[3] in ("granted", "released")] == [
        (0, "slow", "embed", "granted"),
        (20 * MS, "slow", "embed", "released"),
        (20 * MS, "fast", "a", "granted"),
        (30 * MS, "fast", "a", "released"),
        (30 * MS, "fast", "b", "granted"),
        (40 * MS, "fast", "b", "released"),
        (45 * MS, "slow", "index", "granted"),
        (45 * MS, "slow", "index", "released"),
    ]


async def test_two_queued_fast_requests_are_served_in_fifo_order(virtual_clock):
    lanes, _ = _lanes()
    granted: list[str] = []
    async with asyncio.timeout(1), asyncio.TaskGroup() as tg:
        tg.create_task(_fast_work(lanes, "first", at_s=0.0, hold_s=0.010, granted=granted))
        tg.create_task(_fast_work(lanes, "third", at_s=0.002, hold_s=0.010, granted=granted))
        tg.create_task(_fast_work(lanes, "second", at_s=0.001, hold_s=0.010, granted=granted))
    assert granted == ["first", "second", "third"]  # by arrival, not by task order
    assert lanes.fast_grants == 3
    assert [e for e in lanes.log if e[3] == "granted"] == [
        (0, "fast", "first", "granted"),
        (10 * MS, "fast", "second", "granted"),
        (20 * MS, "fast", "third", "granted"),
    ]


async def test_a_fast_waiter_that_times_out_leaves_the_queue_and_does_not_block_the_next(
    virtual_clock,
):
    lanes, _ = _lanes()
    granted: list[str] = []
    timed_out: list[str] = []

    async def impatient() -> None:
        await asyncio.sleep(0.001)
        try:
            async with asyncio.timeout(0.004), lanes.fast("impatient"):
                granted.append("impatient")
        except TimeoutError:
            timed_out.append("impatient")

    async with asyncio.timeout(1), asyncio.TaskGroup() as tg:
        tg.create_task(_fast_work(lanes, "holder", at_s=0.0, hold_s=0.010, granted=granted))
        tg.create_task(impatient())
        tg.create_task(_fast_work(lanes, "next", at_s=0.002, hold_s=0.010, granted=granted))
    assert granted == ["holder", "next"]
    assert timed_out == ["impatient"]
    assert lanes.fast_waiting == 0
    assert (5 * MS, "fast", "impatient", "cancelled") in lanes.log
    assert (10 * MS, "fast", "next", "granted") in lanes.log


async def test_a_cancelled_fast_waiter_reraises_cancelled_error_and_the_next_is_served(
    virtual_clock,
):
    lanes, _ = _lanes()
    granted: list[str] = []
    async with asyncio.timeout(1), asyncio.TaskGroup() as tg:
        tg.create_task(_fast_work(lanes, "holder", at_s=0.0, hold_s=0.010, granted=granted))
        doomed = tg.create_task(
            _fast_work(lanes, "doomed", at_s=0.001, hold_s=0.010, granted=granted)
        )
        tg.create_task(_fast_work(lanes, "next", at_s=0.002, hold_s=0.010, granted=granted))
        await asyncio.sleep(0.003)
        assert lanes.fast_waiting == 2
        doomed.cancel()
        await asyncio.sleep(0)
        assert lanes.fast_waiting == 1
    assert doomed.cancelled()  # CancelledError propagated, not swallowed
    assert granted == ["holder", "next"]
    assert (10 * MS, "fast", "next", "granted") in lanes.log


async def test_a_fast_waiter_cancelled_right_after_being_handed_the_engine_passes_it_on(
    virtual_clock,
):
    lanes, _ = _lanes()
    granted: list[str] = []
    async with asyncio.timeout(1), asyncio.TaskGroup() as tg:
        doomed = tg.create_task(
            _fast_work(lanes, "doomed", at_s=0.001, hold_s=0.010, granted=granted)
        )
        tg.create_task(_fast_work(lanes, "next", at_s=0.002, hold_s=0.010, granted=granted))
        async with lanes.fast("holder") as lease:
            await asyncio.sleep(0.005)
            lease.release()  # hands the engine to "doomed"...
            assert lanes.holder is not None
            assert lanes.holder.name == "doomed"
            doomed.cancel()  # ...which is cancelled before it runs
    assert doomed.cancelled()
    assert granted == ["next"]
    assert [e[1:] for e in lanes.log if e[0] == 5 * MS] == [
        ("fast", "holder", "released"),
        ("fast", "doomed", "granted"),
        ("fast", "doomed", "cancelled"),
        ("fast", "doomed", "released"),
        ("fast", "next", "granted"),
    ]
    assert lanes.holder is None


async def test_a_preempting_fast_waiter_cancelled_leaves_the_engine_idle_after_the_slow_yield(
    virtual_clock,
):
    lanes, _ = _lanes()
    lease = lanes.try_slow("embed")
    assert lease is not None
    done: list[int] = []
    async with asyncio.timeout(1), asyncio.TaskGroup() as tg:
        tg.create_task(_slow_work(lease, steps=10, step_s=0.010, done=done))
        await asyncio.sleep(0.005)  # the slow work is inside its first step
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.002), lanes.fast("reply"):
                pass
    assert lease.preempted.is_set()  # the token stays set: the slow work still yields
    assert done == [0]
    assert lanes.holder is None
    assert lanes.fast_grants == 0
    assert [e for e in lanes.log if e[2] == "reply"] == [
        (5 * MS, "fast", "reply", "queued"),
        (7 * MS, "fast", "reply", "cancelled"),
    ]
    assert (10 * MS, "slow", "embed", "released") in lanes.log
    assert lanes.try_slow("embed-again") is not None


async def test_releasing_twice_is_harmless_and_never_frees_a_later_holder(virtual_clock):
    lanes, _ = _lanes()
    first = lanes.try_slow("first")
    assert first is not None
    first.release()
    first.release()
    second = lanes.try_slow("second")
    assert second is not None
    first.release()  # a stale lease: the engine stays with "second"
    assert lanes.holder is second
    async with second:
        second.release()  # released inside the block, then again on exit
    assert lanes.holder is None
    async with lanes.fast("reply") as fast:
        fast.release()
        fast.release()
        assert lanes.holder is None
        third = lanes.try_slow("third")
        assert third is not None
    assert lanes.holder is third  # the fast block's exit did not free "third"
    third.release()
    assert [e[1:] for e in lanes.log if e[3] == "released"] == [
        ("slow", "first", "released"),
        ("slow", "second", "released"),
        ("fast", "reply", "released"),
        ("slow", "third", "released"),
    ]
