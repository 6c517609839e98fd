"""Fixtures and helpers for the transport contract suite.

`transport_factory` is parametrized over every transport: "local" (an in-process
embedded room server) and "livekit" (a real livekit-server, only when
LIVEKIT_URL is set). Tests use the Transport/RoomConnection seam only.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest

from .helpers import TransportFactory


@pytest.fixture(params=["local", pytest.param("livekit", marks=pytest.mark.livekit)])
async def transport_factory(request: pytest.FixtureRequest) -> AsyncIterator[TransportFactory]:
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
