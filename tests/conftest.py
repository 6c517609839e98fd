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
