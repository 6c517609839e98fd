"""Suite-wide test configuration.

The `livekit`-marked tests run only when LIVEKIT_URL is set. A server started
with `livekit-server --dev` signs with the well-known key `devkey` and secret
`secret`: when only LIVEKIT_URL is exported, those are assumed, so the tests
run instead of erroring on a missing variable. (The harness itself never
assumes credentials: `autortc run` names the missing variable and exits 2.)
"""

from __future__ import annotations

import os

import pytest

DEV_SERVER_KEY = "devkey"
DEV_SERVER_SECRET = "secret"


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get("LIVEKIT_URL"):
        os.environ.setdefault("LIVEKIT_API_KEY", DEV_SERVER_KEY)
        os.environ.setdefault("LIVEKIT_API_SECRET", DEV_SERVER_SECRET)


@pytest.fixture
async def virtual_clock():  # type: ignore[no-untyped-def]
    """Run the test's event loop in virtual time (tests/virtual_time.py)."""
    import asyncio

    from tests.virtual_time import virtual_time

    with virtual_time(asyncio.get_running_loop()) as clock:
        yield clock


# -- no unit test sleeps ---------------------------------------------------------------
# A unit test may spend at most SLEEP_BUDGET_S of real time inside asyncio.sleep /
# time.sleep (its own or the code's under test); wall time spent waiting is wall time
# the suite grows by. Tests that exercise real time on purpose (sockets paced in real
# time, processes, a real agent session) carry the `realtime` mark, or `e2e` /
# `livekit`, and are exempt. Virtual-time tests sleep for free.
SLEEP_BUDGET_S = 0.050
EXEMPT_MARKS = ("realtime", "e2e", "livekit", "browser")


@pytest.fixture(autouse=True)
def _sleep_budget(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    import asyncio
    import time

    if any(request.node.get_closest_marker(m) for m in EXEMPT_MARKS):
        yield
        return
    spans: list[tuple[float, float]] = []
    real_async_sleep, real_sleep, perf = asyncio.sleep, time.sleep, time.perf_counter

    async def async_sleep(delay: float, result=None):  # type: ignore[no-untyped-def]
        if delay <= 0 or "time" in vars(asyncio.get_running_loop()):  # virtual time: free
            return await real_async_sleep(delay, result)
        t0 = perf()
        try:
            return await real_async_sleep(delay, result)
        finally:
            spans.append((t0, perf()))

    def sleep(delay: float) -> None:
        t0 = perf()
        try:
            real_sleep(delay)
        finally:
            spans.append((t0, perf()))

    monkeypatch.setattr(asyncio, "sleep", async_sleep)
    monkeypatch.setattr(time, "sleep", sleep)
    yield
    slept = 0.0
    end = float("-inf")
    for a, b in sorted(spans):  # the union of the intervals: concurrent sleeps count once
        if b > end:
            slept += b - max(a, end)
            end = b
    if slept > SLEEP_BUDGET_S:
        pytest.fail(
            f"this unit test spent {slept * 1000:.0f} ms sleeping in real time (budget "
            f"{SLEEP_BUDGET_S * 1000:.0f} ms): run it in virtual time, or mark it realtime",
            pytrace=False,
        )
