"""Fixtures and helpers for the transport contract suite.

`transport_factory` is parametrized over every transport: "memory" (the in-memory
transport, in virtual time), "local" (an in-process embedded room server) and
"livekit" (a real livekit-server, only when LIVEKIT_URL is set). Tests use the
Transport/RoomConnection seam only, and read time from the event loop, so the same
test runs in real and in virtual time.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator

import pytest

from .helpers import TransportFactory


@pytest.fixture(
    params=[
        "memory",
        pytest.param("local", marks=pytest.mark.realtime),
        pytest.param("livekit", marks=pytest.mark.livekit),
    ]
)
async def transport_factory(request: pytest.FixtureRequest) -> AsyncIterator[TransportFactory]:
    if request.param == "memory":
        from autortc.clock import LoopClock
        from autortc.transport.memory import MemoryHub, MemoryTransport
        from tests.virtual_time import virtual_time

        hub = MemoryHub(clock=LoopClock())
        with virtual_time(asyncio.get_running_loop()):
            factory = TransportFactory("memory", lambda: MemoryTransport(hub), lossless=True)
            try:
                yield factory
            finally:
                await factory.cleanup()
        return
    if request.param == "livekit":
        if not os.environ.get("LIVEKIT_URL"):
            pytest.skip("LIVEKIT_URL not set: needs a real livekit-server")
        from autortc.transport.livekit import LiveKitTransport

        factory = TransportFactory("livekit", LiveKitTransport.from_env, lossless=False)
        try:
            yield factory
        finally:
            await factory.cleanup()
        return

    from autortc.transport.local import LocalTransport
    from autortc.transport.local_server import serve

    server, port = await serve("127.0.0.1", 0)
    url = f"local://127.0.0.1:{port}"
    try:
        factory = TransportFactory("local", lambda: LocalTransport(url), lossless=True)
        try:
            yield factory
        finally:
            await factory.cleanup()
    finally:
        await server.aclose()
